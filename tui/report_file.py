"""`ketnap export report`: the report a unit sends up, as XLSX or CSV, headed in the party
document format (domain.md section 6), with the headers in the user's language.

db.progress.report gives the rows; this module only lays them out. openpyxl is imported only
when an XLSX is written.
"""

from __future__ import annotations

import csv
import io
import re

from db.progress import REPORT_COLUMNS, Report
from tui import i18n
from tui.i18n import t

# How a unit's name becomes its committee's name and the code of its documents (BC/HU ...).
_COMMITTEES = (
    (r"^Đảng bộ tỉnh\s+", "Tỉnh ủy ", "TU"),
    (r"^Đảng bộ huyện\s+", "Huyện ủy ", "HU"),
    (r"^Đảng bộ thành phố\s+", "Thành ủy ", "TU"),
    (r"^Đảng bộ thị xã\s+", "Thị ủy ", "TU"),
    (r"^Đảng bộ\s+", "Đảng ủy ", "ĐU"),
    (r"^Chi bộ\s+", "Chi bộ ", "CB"),
)


def committee(name: str) -> tuple[str, str, str]:
    """(the committee's name, the place's name, the documents' code) for a unit's name:
    "Đảng bộ huyện Ngân Sơn" -> ("Huyện ủy Ngân Sơn", "Ngân Sơn", "HU")."""
    for pattern, replacement, code in _COMMITTEES:
        if re.match(pattern, name):
            place = re.sub(pattern, "", name)
            place = re.sub(r"^(xã|thị trấn|phường|huyện|tỉnh)\s+", "", place)
            return re.sub(pattern, replacement, name), place, code
    return name, name, "BC"


def header_lines(report: Report) -> list[tuple[str, str]]:
    """The document's head: (left, right) per line."""
    own_committee, place, code = committee(report.unit.name)
    parent = report.parent.name.upper() if report.parent else ""
    day = report.as_of
    return [
        (parent, "ĐẢNG CỘNG SẢN VIỆT NAM"),
        (own_committee.upper(), ""),
        ("*", t("report.place_date", place=place, day=day.day, month=day.month, year=day.year)),
        (t("report.number", code=code), ""),
    ]


def title(report: Report) -> str:
    return t("report.title", year=report.year, date=i18n.date(report.as_of))


def _value(key: str, value):
    if value is None:
        return ""
    if key.endswith("percent") or key == "target_percent":
        return value  # a number; the sheet shows it with one decimal
    return value


def table(report: Report) -> tuple[list[str], list[list], list]:
    """(headers, rows, totals row)."""
    headers = [t("report.col.no"), t("report.col.unit")] + [t(f"report.col.{k}") for k in REPORT_COLUMNS]
    rows = [[n, ref.name] + [_value(k, values[k]) for k in REPORT_COLUMNS]
            for n, (ref, values) in enumerate(report.rows, 1)]
    totals = ["", t("report.total")] + [_value(k, report.totals.get(k)) for k in REPORT_COLUMNS]
    return headers, rows, totals


def footer_lines(report: Report) -> list[str]:
    own = report.own
    aware = own.classes["awareness"]
    lines = [t("report.own_target", unit=report.unit.name, target=i18n.number(own.target) if own.target else "—",
               admitted=i18n.number(own.admitted),
               percent=i18n.percent(own.target_percent) if own.target_percent is not None else "—")]
    if aware.planned or aware.held:
        lines.append(t("report.own_classes", held=aware.held, planned=aware.planned,
                       percent=i18n.percent(aware.held_percent) if aware.held_percent is not None else "—",
                       trainees=i18n.number(aware.trainees)))
    return lines


def write_csv(report: Report, path: str | None) -> str:
    """The report as CSV (UTF-8 with a BOM, so that spreadsheet programs read the diacritics)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for left, right in header_lines(report):
        writer.writerow([left, "", "", "", right])
    writer.writerow([])
    writer.writerow([title(report)])
    writer.writerow([])
    headers, rows, totals = table(report)
    writer.writerow(headers)
    writer.writerows(rows)
    writer.writerow(totals)
    writer.writerow([])
    for line in footer_lines(report):
        writer.writerow([line])
    return "\ufeff" + out.getvalue()


def write_xlsx(report: Report, path: str) -> None:
    """The report as an XLSX, landscape, one page wide, ready to print."""
    import os

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    headers, rows, totals = table(report)
    width = len(headers)
    book = Workbook()
    sheet = book.active
    sheet.title = t("report.sheet")
    half = width // 2
    bold = Font(bold=True)
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for n, (left, right) in enumerate(header_lines(report), 1):
        sheet.cell(n, 1, left).font = bold
        sheet.cell(n, 1).alignment = centre
        sheet.merge_cells(start_row=n, start_column=1, end_row=n, end_column=half)
        sheet.cell(n, half + 1, right).font = Font(bold=n == 1, italic=n == 3)
        sheet.cell(n, half + 1).alignment = centre
        sheet.merge_cells(start_row=n, start_column=half + 1, end_row=n, end_column=width)
    row = len(header_lines(report)) + 2
    sheet.cell(row, 1, title(report)).font = Font(bold=True, size=13)
    sheet.cell(row, 1).alignment = centre
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    row += 2
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    first_table_row = row
    for values, is_head in [(headers, True)] + [(r, False) for r in rows] + [(totals, True)]:
        for col, value in enumerate(values, 1):
            cell = sheet.cell(row, col, value)
            cell.border = box
            if is_head:
                cell.font = bold
            if col > 2 and not is_head:
                key = REPORT_COLUMNS[col - 3]
                if key.endswith("percent"):
                    cell.number_format = "0.0"
        if values is headers:
            for col in range(1, width + 1):
                sheet.cell(row, col).alignment = centre
            sheet.row_dimensions[row].height = 60
        row += 1
    for col in range(3, width + 1):
        key = REPORT_COLUMNS[col - 3]
        if key.endswith("percent"):
            sheet.cell(row - 1, col).number_format = "0.0"
    row += 1
    for line in footer_lines(report):
        sheet.cell(row, 1, line)
        row += 1
    sheet.column_dimensions["A"].width = 5
    sheet.column_dimensions["B"].width = 34
    for col in range(3, width + 1):
        sheet.column_dimensions[get_column_letter(col)].width = 9
    sheet.print_title_rows = f"{first_table_row}:{first_table_row}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as fh:
        book.save(fh)
