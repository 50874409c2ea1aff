"""People as a sheet (`ketnap export people`): the columns of the people import, so that an
exported sheet imports back unchanged. Headers and words in the user's language (Vietnamese
headers in `vi`, the column codes in `en`); both import.

Text that a spreadsheet would run as a formula (starting with = + - @) is kept as text: in XLSX
as a string cell, in CSV behind an apostrophe, which the import takes off again."""

from __future__ import annotations

import csv
import datetime
import io

from db.import_people import COLUMNS, FORMULA_STARTS
from tui import i18n
from tui.i18n import t

DATE_COLUMNS = ("born", "admitted_on", "ceremony_on", "official_on")


def headers(columns: list[str]) -> list[str]:
    return [COLUMNS[c] if i18n.language() == "vi" else c for c in columns]


def _word(column: str, value):
    """A value as the sheet shows it (dates left as dates)."""
    if value is None:
        return ""
    if column == "sex":
        return t(f"cli.export_people.sex_{value}")
    if column == "youth_union":
        return t("cli.export_people.yes" if value else "cli.export_people.no")
    if column == "party_status":
        return i18n.code_name("party_status", value) if i18n.language() == "vi" else value
    return value


def _csv_text(value) -> str:
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS and text not in ("-",) else text


def write_csv(columns: list[str], rows: list[dict]) -> str:
    """The people as CSV text (a UTF-8 byte order mark first, so that Excel reads the diacritics)."""
    return table_csv(headers(columns), [[_word(c, row.get(c)) for c in columns] for row in rows])


def write_xlsx(columns: list[str], rows: list[dict]) -> bytes:
    widths = [12 if c in DATE_COLUMNS else 14 if c in ("citizen_id", "phone", "sex") else 24 for c in columns]
    return table_xlsx(headers(columns), [[_word(c, row.get(c)) for c in columns] for row in rows], widths,
                      t("cli.export_people.sheet_title"))


def table_csv(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else _csv_text(v) for v in row])
    return "\ufeff" + out.getvalue()


def table_xlsx(header: list[str], rows: list[list], widths: list[int], title: str) -> bytes:
    """A sheet: bold header, dates as date cells, every other value as a text cell (never a
    formula, whatever it starts with), the header row frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    page = book.active
    page.title = title[:31]
    page.append(header)
    for cell in page[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(rows, start=2):
        for index, value in enumerate(row, start=1):
            cell = page.cell(row=number, column=index)
            if isinstance(value, datetime.date):
                cell.value = value
                cell.number_format = "DD/MM/YYYY"
            elif value not in (None, ""):
                cell.value = str(value)
                cell.data_type = "s"
    for index, width in enumerate(widths, start=1):
        page.column_dimensions[page.cell(row=1, column=index).column_letter].width = width
    page.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


CASE_COLUMNS = ("full_name", "born", "citizen_id", "branch", "stage", "opened", "last_step",
                "status", "outcome", "closed_on")


def case_rows(documents: list[dict]) -> list[list]:
    """One row per exported file (ketnap-case/1 documents), for a sheet."""
    rows = []
    for doc in documents:
        person, steps = doc.get("person") or {}, doc.get("steps") or []
        outcome = doc.get("outcome") or {}
        day = lambda text: datetime.date.fromisoformat(text) if text else None  # noqa: E731
        rows.append([person.get("full_name"), day(person.get("born")), person.get("citizen_id"),
                     doc.get("branch"), i18n.code_name("stage", steps[-1]["stage"]) if steps else "",
                     day(steps[0]["date"]) if steps else None, day(steps[-1]["date"]) if steps else None,
                     t("cli.export_cases.closed" if outcome else "cli.export_cases.done"
                       if steps and steps[-1]["stage"] == "official" else "cli.export_cases.open"),
                     i18n.code_name("outcome", outcome.get("code")) if outcome else "",
                     day(outcome.get("date")) if outcome else None])
    return rows


def case_headers() -> list[str]:
    return [t(f"cli.export_cases.col_{c}") for c in CASE_COLUMNS]
