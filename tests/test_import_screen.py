"""Importing people from a sheet on the screen (screens/import_people.py), driven with the keyboard
on a copy of the demo as its organiser: the path typed, the preview under the fields' names, the
dry run's counts and rejected rows exactly those of db.import_people, the import itself; a TCVN3
file recognised; an unknown column and a missing file refused where they are typed; a viewer
kept out."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from textual.widgets import DataTable, ProgressBar, Static

from db import import_people, models, textfile
from db.access import account_actor
from db.import_people import COLUMNS
from screens.dialogs import ConfirmDialog
from screens.help import HelpScreen
from screens.import_people import ImportPeopleScreen
from screens.main import MainScreen
from tests import people_sheet
from tests.test_screens import content_text
from tests.ui_helpers import screen_text, settle
from tui.import_text import people_problem_message

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)
ROWS = 60  # rows 12, 35 and 58 hold planted mistakes


def sheet_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def write_csv(tmp_path, rows, name="danh-sach.csv", encode=lambda text: text.encode("utf-8")):
    path = tmp_path / name
    path.write_bytes(encode(sheet_text(rows)))
    return path


def counts() -> dict[str, int]:
    return {m.__name__: m.select().count()
            for m in (models.Person, models.CaseFile, models.Membership, models.Affiliation, models.AuditEntry)}


def table_rows(table: DataTable) -> list[list[str]]:
    return [[str(getattr(cell, "plain", cell)) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def table_headers(table: DataTable) -> list[str]:
    return [str(column.label.plain) for column in table.ordered_columns]


def text_of(screen, selector: str) -> str:
    return content_text(screen.query_one(selector, Static))


def expected_rejected(report) -> list[tuple[str, str, str]]:
    """(row, name, reason) of each fault, in the order the screen lists them."""
    return [(str(f.row), f.record or "", people_problem_message(p)) for f in report.rejected for p in f.problems]


async def open_import(pilot) -> ImportPeopleScreen:
    await settle(pilot)
    await pilot.press("I")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ImportPeopleScreen), screen_text(pilot.app)
    assert screen.step == 1 and screen.focused is screen.path_field.input
    return screen


async def type_path(pilot, path) -> ImportPeopleScreen:
    """Type the path into the field (key by key) and press Enter; the file is read."""
    await pilot.press(*str(path))
    await pilot.press("enter")
    await settle(pilot)
    return pilot.app.screen


async def test_preview_dry_run_and_import_of_a_utf8_sheet(make_demo_app, tmp_path):
    rows = people_sheet.rows(ROWS)
    path = write_csv(tmp_path, rows)
    organiser = account_actor("demo_organiser")
    app = make_demo_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(pilot)
        assert "people-template" in screen_text(app)  # where the template is
        before = counts()
        screen = await type_path(pilot, path)

        # step 2: the first rows under the fields' names, values as read
        assert screen.step == 2
        preview = screen.query_one("#preview-table", DataTable)
        assert table_headers(preview) == ["Dòng"] + [COLUMNS[people_sheet_code(h)] for h in people_sheet.HEADER]
        cells = table_rows(preview)
        assert [r[0] for r in cells] == [str(n) for n in range(2, 10)]
        assert [r[1] for r in cells] == [r[0] for r in rows[1:9]]
        assert cells[0][1:] == rows[1]  # literally, every column
        assert "UTF-8" in text_of(screen, "#preview-format")
        assert "60 dòng dữ liệu" in text_of(screen, "#preview-counts")
        assert "Hoàng Văn Dũng" in screen_text(app)  # drawn at 80 columns

        # step 3: the dry run, the same as db.import_people's
        await pilot.press("enter")
        await settle(pilot)
        assert screen.step == 3
        expected = import_people.import_people(organiser, rows, TODAY, dry_run=True)
        assert counts() == before  # neither the screen's dry run nor this one wrote anything
        dry = screen.dry
        assert (dry.imported, dry.updated, dry.unchanged, len(dry.rejected)) == \
               (expected.imported, expected.updated, expected.unchanged, len(expected.rejected)) == (57, 0, 0, 3)
        assert {f.row for f in dry.rejected} == {n for n in people_sheet.PLANTED if n <= ROWS + 1}
        summary = text_of(screen, "#dry-summary")
        assert "57 người mới" in summary and "3 dòng bị từ chối" in summary and "chưa ghi gì" in summary
        table = screen.query_one("#dry-table", DataTable)
        assert table_headers(table) == ["Dòng", "Họ và tên", "Cột", "Giá trị", "Lý do"]
        listed = table_rows(table)
        assert [(r[0], r[1]) for r in listed] == [(row, name) for row, name, _ in expected_rejected(expected)]
        assert [r[2] for r in listed] == ["Ngày sinh"] * 3
        assert [r[3] for r in listed] == ["31/02/1990", "1990-13-01", "không rõ"]
        # the reason in full below the table, for the highlighted row
        row, name, reason = expected_rejected(expected)[0]
        assert text_of(screen, "#dry-detail").strip() == f"Dòng {row} ({name}): {reason}"
        assert counts() == before

        # step 4: asked first, then imported with a progress bar
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("c")
        await settle(pilot)
        assert app.screen is screen and screen.step == 4
        result = screen.result
        assert (result.imported, result.updated, result.unchanged, len(result.rejected)) == (57, 0, 0, 3)
        bar = screen.query_one(ProgressBar)
        assert bar.progress == bar.total
        assert "Đã nhập: 57 người mới" in text_of(screen, "#import-summary")
        assert [r[0] for r in table_rows(screen.query_one("#import-table", DataTable))] == ["12", "35", "58"]
        after = counts()
        members = sum(1 for n, r in enumerate(rows[1:], start=2) if r[11] and n not in people_sheet.PLANTED)
        assert after["Person"] - before["Person"] == 57
        assert after["Membership"] - before["Membership"] == members
        assert after["CaseFile"] - before["CaseFile"] == 57 - members

        # done: Escape (or Enter) closes; it does not go back to a dry run
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


def people_sheet_code(header: str) -> str:
    return next(code for code, name in COLUMNS.items() if name == header)


async def test_a_tcvn3_sheet_is_recognised_and_read_as_unicode(make_demo_app, tmp_path):
    assert hasattr(textfile, "encode_tcvn3")
    rows = people_sheet.rows(ROWS)
    path = write_csv(tmp_path, rows, "abc.csv", encode=textfile.encode_tcvn3)
    assert rows[1][0].encode("utf-8") not in path.read_bytes()
    organiser = account_actor("demo_organiser")
    app = make_demo_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        await open_import(pilot)
        screen = await type_path(pilot, path)
        assert screen.step == 2
        assert "TCVN3" in text_of(screen, "#preview-format")
        cells = table_rows(screen.query_one("#preview-table", DataTable))
        assert [r[1] for r in cells] == [r[0] for r in rows[1:9]]
        assert [r[11] for r in cells] == [r[10] for r in rows[1:9]]  # Chi bộ, e.g. "Chi bộ Tổ dân phố Nà Cháo"
        await pilot.press("enter")
        await settle(pilot)
        expected = import_people.import_people(organiser, rows, TODAY, dry_run=True)
        dry = screen.dry
        assert (dry.imported, dry.updated, dry.unchanged) == (expected.imported, expected.updated, expected.unchanged)
        assert [(r[0], r[1]) for r in table_rows(screen.query_one("#dry-table", DataTable))] == \
               [(row, name) for row, name, _ in expected_rejected(expected)]


async def test_all_or_nothing_writes_nothing_when_a_row_is_rejected(make_demo_app, tmp_path):
    path = write_csv(tmp_path, people_sheet.rows(ROWS))
    app = make_demo_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        await open_import(pilot)
        screen = await type_path(pilot, path)
        await pilot.press("enter")
        await settle(pilot)
        before = counts()
        await pilot.press("a")
        await pilot.pause()
        assert "không ghi gì" in text_of(screen, "#dry-summary")
        await pilot.press("enter", "c")
        await settle(pilot)
        assert screen.step == 4 and screen.result.rolled_back
        assert "không ghi dòng nào" in text_of(screen, "#import-summary")
        assert counts() == before


async def test_escape_goes_back_a_step_and_nothing_is_written(make_demo_app, tmp_path):
    path = write_csv(tmp_path, people_sheet.rows(ROWS))
    app = make_demo_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        await open_import(pilot)
        before = counts()
        screen = await type_path(pilot, path)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.step == 3
        await pilot.press("escape")
        assert screen.step == 2
        await pilot.press("escape")
        assert screen.step == 1 and screen.path_field.input.value == str(path)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert counts() == before


async def test_an_unknown_column_refuses_the_whole_file_at_the_preview(make_demo_app, tmp_path):
    rows = people_sheet.rows(10)
    rows[0] = rows[0] + ["Quê quán"]
    rows[1:] = [r + ["Cao Bằng"] for r in rows[1:]]
    path = write_csv(tmp_path, rows)
    app = make_demo_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        await open_import(pilot)
        before = counts()
        screen = await type_path(pilot, path)
        assert screen.step == 2
        refusal = text_of(screen, "#preview-refusal")
        assert "Không nhập gì" in refusal and "“Quê quán”" in refusal
        assert "Quê quán" in screen_text(app)
        assert not screen.query_one("#preview-table", DataTable).display
        await pilot.press("enter")  # no dry run of a refused file
        await settle(pilot)
        assert screen.step == 2 and screen.dry is None
        assert counts() == before


async def test_a_missing_file_and_a_file_that_is_no_sheet_are_refused_at_the_field(make_demo_app, tmp_path):
    picture = tmp_path / "anh.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    app = make_demo_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(pilot)
        field = screen.path_field
        missing = tmp_path / "khong-co.csv"
        await type_path(pilot, missing)
        assert screen.step == 1
        error = content_text(field.query_one(".form-error", Static))
        assert "Không có tệp" in error and "khong-co.csv" in error
        assert "khong-co.csv" in screen_text(app)
        field.input.value = str(picture)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.step == 1
        assert "không phải bảng tính" in content_text(field.query_one(".form-error", Static))
        field.input.value = str(tmp_path)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.step == 1 and "thư mục" in content_text(field.query_one(".form-error", Static))


async def test_the_preview_speaks_english(make_demo_app, tmp_path):
    path = write_csv(tmp_path, people_sheet.rows(10))
    app = make_demo_app("demo_organiser", lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await open_import(pilot)
        screen = await type_path(pilot, path)
        headers = table_headers(screen.query_one("#preview-table", DataTable))
        assert headers[:4] == ["Row", "Full name", "Sex", "Born"]
        assert "UTF-8" in text_of(screen, "#preview-format")


async def test_a_viewer_cannot_open_it_and_is_told_why(make_demo_app):
    app = make_demo_app("demo_viewer")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("I")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert any("chỉ xem" in str(n.message) for n in app._notifications)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "Nhập danh sách" not in content_text(app.screen.query_one("#help-body", Static))


async def test_the_key_is_in_the_help_for_an_organiser(make_demo_app):
    app = make_demo_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "Nhập danh sách" in content_text(app.screen.query_one("#help-body", Static))


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_import_screen_has_its_help(make_demo_app, lang):
    app = make_demo_app("demo_organiser", lang=lang)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        body = content_text(app.screen.query_one("#help-body", Static))
        assert ("Chạy thử" if lang == "vi" else "Dry run") in body


async def test_a_path_and_enter_in_one_burst_read_the_path_typed(make_demo_app, tmp_path):
    """A slow link delivers "path, Enter" in one read: Enter acts on the whole path."""
    from textual import events

    path = write_csv(tmp_path, people_sheet.rows(10))
    app = make_demo_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(pilot)
        for char in str(tmp_path / "khong-co.csv"):
            app.post_message(events.Key(char, char))
        app.post_message(events.Key("enter", "\r"))
        await settle(pilot)
        assert screen.step == 1
        assert "Không có tệp" in content_text(screen.path_field.query_one(".form-error", Static))
        screen.path_field.input.value = ""
        await pilot.pause()
        for char in str(path):
            app.post_message(events.Key(char, char))
        app.post_message(events.Key("enter", "\r"))
        await settle(pilot)
        assert screen.step == 2 and screen.sheet.path == str(path)


async def test_over_ssh_no_server_file_is_read(demo_db, tmp_path):
    """A forced-command session (server_files=False) may not read the server's files: the sheet
    comes through `ketnap import -` from the client's computer."""
    from tui.app import KetnapApp
    from tui.context import AppContext

    path = write_csv(tmp_path, people_sheet.rows(5))
    app = KetnapApp(AppContext(location=demo_db, actor=account_actor("demo_organiser"),
                               today=datetime.date(2021, 9, 30), server_files=False), theme="textual-dark")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(pilot)
        await type_path(pilot, path)
        assert screen.step == 1
        assert "ketnap import -" in content_text(screen.path_field.query_one(".form-error", Static))
