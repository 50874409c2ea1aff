"""Importing people from a sheet (db.import_people) on a copy of the demo: the planted mistakes
reported exactly, the rest in, a second import changing nothing, --all-or-nothing, a dry run,
an unknown column, and the refusal to change a party status or a branch."""

from __future__ import annotations

import datetime

import pytest

from db import import_people, models
from db.access import account_actor
from db.import_people import ImportRefused
from tests import people_sheet

TODAY = datetime.date(2021, 9, 30)


@pytest.fixture
def organiser(demo_db):
    return account_actor("demo_organiser")


def counts():
    return {m.__name__: m.select().count() for m in (models.Person, models.CaseFile, models.Membership,
                                                    models.Affiliation)}


def rejected_codes(report) -> dict[int, list[str]]:
    return {f.row: [p.code for p in f.problems] for f in report.rejected}


def test_the_planted_mistakes_are_reported_and_the_rest_go_in_once(organiser):
    before = counts()
    report = import_people.import_people(organiser, people_sheet.rows(), TODAY)
    assert rejected_codes(report) == {row: [code] for row, code in people_sheet.PLANTED.items()}
    assert (report.imported, report.updated, report.unchanged) == (480, 0, 0)
    after = counts()
    members = sum(1 for r in people_sheet.rows()[1:] if r[11]) - sum(
        1 for row in people_sheet.PLANTED if people_sheet.rows()[row - 1][11])
    assert after["Person"] - before["Person"] == 480
    assert after["Membership"] - before["Membership"] == members
    assert after["CaseFile"] - before["CaseFile"] == 480 - members
    # a duplicate citizen ID: the later row is the one rejected, the earlier one went in
    assert models.Person.select().where(models.Person.citizen_id == people_sheet.citizen_id(18)).count() == 1
    again = import_people.import_people(organiser, people_sheet.rows(), TODAY)
    assert (again.imported, again.updated, again.unchanged, len(again.rejected)) == (0, 0, 480, 20)
    assert counts() == after


def test_all_or_nothing_and_dry_run_write_nothing(organiser):
    before = counts()
    report = import_people.import_people(organiser, people_sheet.rows(), TODAY, all_or_nothing=True)
    assert report.rolled_back and len(report.rejected) == 20 and report.imported == 0
    assert counts() == before
    dry = import_people.import_people(organiser, people_sheet.rows(), TODAY, dry_run=True)
    assert dry.dry_run and dry.imported == 480 and len(dry.rejected) == 20
    assert counts() == before
    clean = [r for n, r in enumerate(people_sheet.rows(), start=1) if n not in people_sheet.PLANTED]
    report = import_people.import_people(organiser, clean, TODAY, all_or_nothing=True)
    assert not report.rolled_back and report.imported == 480


def test_an_unknown_column_refuses_the_whole_file(organiser):
    sheet = people_sheet.rows()
    sheet[0] = sheet[0] + ["Ghi chú riêng"]
    before = counts()
    with pytest.raises(ImportRefused) as err:
        import_people.import_people(organiser, sheet, TODAY)
    assert err.value.code == "unknown_column" and err.value.params["column"] == "Ghi chú riêng"
    assert counts() == before


def test_english_headers_and_updates(organiser):
    sheet = [["full_name", "sex", "born", "citizen_id", "branch", "occupation"],
             ["Hoàng Thị Mai", "F", "2001-04-12", "099100009999", "NS-NP-03", "Giáo viên"]]
    first = import_people.import_people(organiser, sheet, TODAY)
    assert first.imported == 1
    sheet[1][5] = "Công chức"
    second = import_people.import_people(organiser, sheet, TODAY)
    assert (second.updated, second.imported) == (1, 0)
    assert models.Person.get(models.Person.citizen_id == "099100009999").occupation == "Công chức"


def test_a_sheet_may_not_change_party_status_or_branch(organiser):
    sheet = [["full_name", "sex", "born", "citizen_id", "branch"],
             ["Nông Văn Dũng", "M", "12/05/1995", "099100008888", "NS-NP-03"]]
    assert import_people.import_people(organiser, sheet, TODAY).imported == 1
    moved = [sheet[0], ["Nông Văn Dũng", "M", "12/05/1995", "099100008888", "NS-NP-05"]]
    report = import_people.import_people(organiser, moved, TODAY)
    assert rejected_codes(report) == {2: ["needs_procedure"]}
    member = [sheet[0] + ["party_status", "admitted_on", "ceremony_on"],
              ["Nông Văn Dũng", "M", "12/05/1995", "099100008888", "NS-NP-03", "official", "01/01/2020", "20/01/2020"]]
    report = import_people.import_people(organiser, member, TODAY)
    assert [p.code for p in report.rejected[0].problems] in (["needs_procedure"], ["missing_value"])


def test_a_viewer_may_not_import(demo_db):
    from db.access import AccessError

    with pytest.raises(AccessError):
        import_people.import_people(account_actor("demo_viewer"), people_sheet.rows(3), TODAY)


def xlsx_bytes(sheet: list[list[str]]) -> bytes:
    """The sheet as a spreadsheet program saves it: dates as date cells, citizen IDs as numbers
    (the leading zero lost), every other cell as text."""
    import io

    from openpyxl import Workbook

    from db.connection import parse_date

    book = Workbook()
    page = book.active
    for number, row in enumerate(sheet, start=1):
        cells = []
        for column, value in zip(sheet[0], row):
            if number > 1 and column in ("Ngày sinh", "Ngày vào Đảng", "Ngày kết nạp", "Ngày chính thức") and value:
                try:
                    value = parse_date(value)
                except ValueError:
                    pass
            elif number > 1 and column == "Số CCCD" and value.isdigit() and len(value) == 12:
                value = int(value)
            cells.append(value)
        page.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_same_sheet_as_xlsx_gives_the_same_result(organiser):
    report = import_people.import_people(organiser, import_people.rows_from_xlsx(xlsx_bytes(people_sheet.rows())),
                                         TODAY)
    assert rejected_codes(report) == {row: [code] for row, code in people_sheet.PLANTED.items()}
    assert report.imported == 480
    assert models.Person.select().where(models.Person.citizen_id == people_sheet.citizen_id(7)).exists()


def test_a_formula_cell_without_its_value_is_a_bad_value(organiser):
    sheet = [["full_name", "sex", "born", "branch", "occupation"],
             ["Hà Văn Lâm", "M", "03/03/1990", "NS-NP-03", "=UPPER(A2)"]]
    report = import_people.import_people(organiser, import_people.rows_from_xlsx(xlsx_bytes(sheet)), TODAY)
    assert rejected_codes(report) == {2: ["bad_value"]}
    assert report.rejected[0].problems[0].column == "occupation"


def test_the_command_line_imports_a_workbook_and_reports_each_rejected_row(demo_db, capsys, tmp_path):
    import json

    from tui import cli

    path = tmp_path / "danh-sach.xlsx"
    path.write_bytes(xlsx_bytes(people_sheet.rows(60)))
    user = ("--db", demo_db, "--user", "demo_organiser", "--lang", "en")
    status = cli.main([*user, "import", str(path), "--dry-run", "--json"])
    doc = json.loads(capsys.readouterr().out)
    planted = {row: code for row, code in people_sheet.PLANTED.items() if row <= 61}
    assert status == 1 and doc["dry_run"] and doc["imported"] == 60 - len(planted)
    assert {r["row"]: [v["code"] for v in r["violations"]] for r in doc["rejected"]} == \
        {row: [code] for row, code in planted.items()}
    assert doc["rejected"][0]["violations"][0]["message"] == "Column “born”: “31/02/1990” is not a valid value."
    status = cli.main([*user, "import", str(path)])
    captured = capsys.readouterr()
    assert status == 1 and "Row 12 (" in captured.err and "is not a valid value" in captured.err
    assert "57 people imported (new), 0 updated, 0 unchanged, 3 rows rejected" in captured.out
    status = cli.main(["--db", demo_db, "--user", "demo_organiser", "--lang", "vi", "import", str(path)])
    captured = capsys.readouterr()
    assert status == 1 and "Cột “Ngày sinh”: “31/02/1990” không hợp lệ." in captured.err
    bad = tmp_path / "bad.xlsx"
    sheet = people_sheet.rows(3)
    sheet[0][3] = "Màu áo"
    bad.write_bytes(xlsx_bytes(sheet))
    status = cli.main([*user, "import", str(bad), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert status == 1 and doc["error"]["code"] == "unknown_column" and "Màu áo" in doc["error"]["message"]


def test_a_branch_exported_and_imported_again_changes_nothing(demo_db, capsys, tmp_path):
    import io

    from openpyxl import load_workbook

    from tui import cli

    person = models.Person.select().join(models.Unit, on=(models.Person.branch == models.Unit.id)).where(
        models.Unit.code == "NS-NP-03").first()
    models.Person.update(occupation="=HYPERLINK(\"http://x\")", residence="+84 thôn Pác Cáp").where(
        models.Person.id == person.id).execute()
    user = ("--db", demo_db, "--user", "demo_organiser", "--lang", "en")
    for suffix in ("xlsx", "csv"):
        path = tmp_path / f"np03.{suffix}"
        assert cli.main([*user, "export", "people", "--unit", "NS-NP-03", "-o", str(path)]) == 0
        capsys.readouterr()
        if suffix == "csv":
            text = path.read_text(encoding="utf-8-sig")
            assert "'=HYPERLINK" in text and "'+84 thôn" in text
        else:
            page = load_workbook(io.BytesIO(path.read_bytes())).active
            cells = [c for row in page.iter_rows() for c in row if c.value and str(c.value).startswith("=")]
            assert cells and all(c.data_type == "s" for c in cells)
        before = counts()
        status = cli.main([*user, "import", str(path), "--json"])
        import json
        doc = json.loads(capsys.readouterr().out)
        people = models.Person.select().join(models.Unit, on=(models.Person.branch == models.Unit.id)).where(
            models.Unit.code == "NS-NP-03").count()
        assert status == 0 and (doc["imported"], doc["updated"], doc["unchanged"]) == (0, 0, people)
        assert counts() == before
    assert models.Person.get_by_id(person.id).occupation == "=HYPERLINK(\"http://x\")"


def test_a_viewer_exports_names_only(demo_db, capsys):
    from tui import cli

    assert cli.main(["--db", demo_db, "--user", "demo_viewer", "--lang", "en", "export", "people", "--unit",
                     "NS-NP-03", "-o", "-"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == "full_name,sex,branch,party_status,admitted_on,ceremony_on,official_on"


@pytest.mark.parametrize("name", ["people-template.xlsx", "people-template.csv"])
def test_the_templates_have_every_column_and_import_as_nothing(organiser, name):
    from pathlib import Path

    data = (Path(__file__).resolve().parent.parent / "fixtures" / name).read_bytes()
    rows = import_people.read_sheet(data)
    assert import_people.columns_of(rows[0]) == list(import_people.COLUMNS)
    assert rows[0][0] == "Họ và tên" and len(rows) == 1
    report = import_people.import_people(organiser, rows, TODAY)
    assert (report.imported, report.updated, report.unchanged, report.rejected) == (0, 0, 0, [])


def test_an_import_killed_halfway_leaves_whole_people_and_a_sound_database(demo_db, tmp_path):
    """SIGKILL in the middle of a large import: every person of the sheet is either there with
    their file or membership, or not there at all; `ketnap check` passes."""
    import csv
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from db import audit, connection

    audit.write_current_head()
    sheet = tmp_path / "lon.csv"
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(people_sheet.rows(3000))
    ours = lambda: models.Person.select().where(models.Person.citizen_id.startswith("0991")).count()  # noqa: E731
    assert ours() == 0
    connection.close_database()
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, "-m", "tui.cli", "--db", demo_db, "--user", "demo_organiser",
                              "import", str(sheet)], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    connection.open_database(demo_db)
    deadline = time.monotonic() + 120
    while ours() == 0 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for the first batch to be committed (an observable event)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert 0 < ours() < 2980, "killed after the first batch and before the end"
    M, C, P = models.Membership, models.CaseFile, models.Person
    for person in P.select().where(P.citizen_id.startswith("0991")):
        has_file = C.select().where(C.person == person.id).exists()
        has_membership = M.select().where(M.person == person.id).exists()
        assert has_file != has_membership, person.full_name  # exactly one: whole, not half
        assert models.Affiliation.select().where(models.Affiliation.person == person.id).count() == 1
    connection.close_database()
    check = subprocess.run([sys.executable, "-m", "tui.cli", "--db", demo_db, "--user", "demo_admin", "--lang", "en",
                            "check"], cwd=root, capture_output=True, text=True)
    connection.open_database(demo_db)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("form", ["utf-16 text", "tcvn3", "vni", "cp1258"])
def test_the_same_sheet_in_other_encodings_gives_the_same_result(organiser, form):
    import csv
    import io

    from db import textfile

    out = io.StringIO()
    csv.writer(out, delimiter="\t" if form == "utf-16 text" else ",").writerows(people_sheet.rows())
    text = out.getvalue()
    if form == "utf-16 text":  # Excel's "Unicode text"
        data = "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
    elif form == "tcvn3":
        data = textfile.encode_tcvn3(text)
    elif form == "vni":
        data = textfile.encode_vni(text)
    else:  # Windows writes a base letter and a separate tone mark
        data = _cp1258(text)
    report = import_people.import_people(organiser, import_people.read_sheet(data), TODAY)
    assert rejected_codes(report) == {row: [code] for row, code in people_sheet.PLANTED.items()}
    assert report.imported == 480
    first = people_sheet.rows(1)[1]
    assert models.Person.select().where((models.Person.full_name == first[0])
                                        & (models.Person.residence == first[8])).count() == 1


def _cp1258(text: str) -> bytes:
    """Text as Windows-1258 writes it: precomposed where the code page has the letter, else the
    base letter and a combining tone mark."""
    import unicodedata

    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            base, *marks = unicodedata.normalize("NFD", ch)
            composed = unicodedata.normalize("NFC", base + "".join(m for m in marks if m not in "\u0300\u0301\u0303\u0309\u0323"))
            out += composed.encode("cp1258") + "".join(m for m in marks if m in "\u0300\u0301\u0303\u0309\u0323").encode("cp1258")
    return bytes(out)


def test_a_namesake_with_another_citizen_id_is_another_person(organiser):
    sheet = [["full_name", "sex", "born", "citizen_id", "branch"],
             ["Lục Văn Sơn", "M", "02/02/1992", "099100007001", "NS-NP-03"],
             ["Lục Văn Sơn", "M", "02/02/1992", "099100007002", "NS-NP-03"]]
    report = import_people.import_people(organiser, sheet, TODAY)
    assert report.imported == 2
    assert models.Person.select().where(models.Person.full_name == "Lục Văn Sơn").count() >= 2


def test_a_units_files_as_a_sheet(demo_db, capsys, tmp_path):
    import io

    from openpyxl import load_workbook

    from tui import cli

    path = tmp_path / "ho-so.xlsx"
    assert cli.main(["--db", demo_db, "--user", "demo_organiser", "--lang", "en", "export", "cases", "--unit",
                     "NS-NP-03", "-o", str(path)]) == 0
    page = load_workbook(io.BytesIO(path.read_bytes())).active
    rows = list(page.iter_rows(values_only=True))
    C = models.CaseFile
    files = C.select().join(models.Unit, on=(C.branch == models.Unit.id)).where(models.Unit.code == "NS-NP-03")
    assert rows[0][0] == "full_name" and len(rows) - 1 == files.count()
    names = {c.person.full_name for c in files}
    assert {r[0] for r in rows[1:]} == names
    assert cli.main(["--db", demo_db, "--user", "demo_viewer", "export", "cases", "-o", str(path)]) == 1
