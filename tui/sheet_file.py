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
    """The sheet as CSV text, with a UTF-8 byte order mark so that Excel reads the diacritics."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers(columns))
    for row in rows:
        writer.writerow([_csv_text(_word(c, row.get(c))) for c in columns])
    return "\ufeff" + out.getvalue()


def write_xlsx(columns: list[str], rows: list[dict]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=False)
    page = book.active
    page.title = t("cli.export_people.sheet_title")[:31]
    page.append(headers(columns))
    for cell in page[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(rows, start=2):
        for index, column in enumerate(columns, start=1):
            value = _word(column, row.get(column))
            cell = page.cell(row=number, column=index)
            if isinstance(value, datetime.date):
                cell.value = value
                cell.number_format = "DD/MM/YYYY"
            else:
                cell.value = str(value) if value != "" else None
                if cell.value is not None:
                    cell.data_type = "s"  # never a formula, whatever the text starts with
    for index, column in enumerate(columns, start=1):
        width = 12 if column in DATE_COLUMNS else 14 if column in ("citizen_id", "phone", "sex") else 24
        page.column_dimensions[page.cell(row=1, column=index).column_letter].width = width
    page.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
