"""The class screens on the demo (today 30/09/2021), driven with the keyboard: the class list with
the year's plan, planning a class, enrolling across branches, the results grid, enrolling from a
file, and the refusals (over capacity, a certificate number used twice) that save nothing."""

from __future__ import annotations

import datetime

import pytest
from textual.widgets import DataTable, Input

from db import classes, models
from db.access import account_actor
from screens.case import CaseScreen
from screens.class_enrol import ClassPicker, EnrolScreen
from screens.class_results import ResultsScreen
from screens.classes import ClassForm, ClassListScreen, ClassScreen
from tests.ui_helpers import screen_text, settle
from tui.context import AppContext
from tui.widgets import PagedTable

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)
RUNNING = 51  # the demo's "khóa 4 năm 2021": 27/09-01/10/2021, 38 of 40 places taken
CENTRE = "Trung tâm Chính trị huyện Ngân Sơn"


@pytest.fixture
def make_app(make_demo_app):
    return make_demo_app


@pytest.fixture
def organiser(demo_db):
    return account_actor("demo_organiser")


def new_class(actor, **extra) -> int:
    """A class of the district that started yesterday: every candidate's file is older."""
    district = actor.unit_id
    values = dict(kind="awareness", name="Lớp thử, khóa 9 năm 2021", unit_id=district,
                  planned_start=datetime.date(2021, 9, 29), start=datetime.date(2021, 9, 29),
                  end=datetime.date(2021, 9, 30), capacity=30, today=TODAY)
    values.update(extra)
    return classes.new_class(actor, **values)


def stage_of(case_id: int) -> str:
    return models.CaseFile.get_by_id(case_id).stage


async def type_text(pilot, text: str) -> None:
    await pilot.press(*text)


async def open_class(pilot, class_id: int) -> ClassScreen:
    app = pilot.app
    await settle(pilot)
    app.push_screen(ClassScreen(app.context, class_id))
    await settle(pilot)
    assert isinstance(app.screen, ClassScreen)
    return app.screen


def table_names(table: DataTable, column: int) -> list[str]:
    return [table.get_row_at(i)[column].plain for i in range(table.row_count)]


# --- the class list --------------------------------------------------------------------------

async def test_k_lists_the_years_classes_with_the_plan(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, ClassListScreen)
        text = screen_text(app)
        assert "Kế hoạch 2021: 4/5 lớp đã mở (80 %), 152 học viên" in text
        for n in range(1, 6):
            assert f"khóa {n} năm 2021" in text
        assert "Đang học" in text and "38/40" in text and "Dự kiến" in text
        # the first class not finished has the cursor: the running one
        table = app.screen.query_one("#classes", DataTable)
        assert table.get_row_at(table.cursor_row)[1].plain == "khóa 4 năm 2021"
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert "Năm 2020: 7 lớp" in screen_text(app)
        await pilot.press("plus")
        await settle(pilot)
        assert "4/5" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ClassScreen) and app.screen.class_id == RUNNING
        assert "Nguyễn Văn Bình" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("escape")
        assert not isinstance(app.screen, ClassListScreen)


async def test_a_long_class_list_is_shown_a_page_at_a_time(make_app, organiser):
    """A province plans a thousand classes a year: the list shows a page of them, says which
    rows, turns pages with PageDown and the arrows, filters all of them, and Enter opens the
    class on the row (also on a later page)."""
    planned = [new_class(organiser, name=f"Lớp thử, khóa {n} năm 2021", start=None, end=None,
                         planned_start=datetime.date(2021, 10, 1) + datetime.timedelta(days=n))
               for n in range(10, 70)]
    app = make_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ClassListScreen)
        table = screen.query_one("#classes", PagedTable)
        total, size = len(screen.rows), table.row_count
        assert total > 60 and 5 < size < total  # a page of them
        first = screen.first
        assert screen.current().status in ("planned", "running")  # the first class not finished
        assert f"dòng {first + 1}–{first + size}/{total}" in screen_text(app)
        shown = table_names(table, 1)
        await pilot.press("pagedown")
        await settle(pilot)
        assert screen.first == first + size and table_names(table, 1) != shown
        assert screen.current().name.endswith(table.get_row_at(table.cursor_row)[1].plain)
        await pilot.press("slash", *"khoa 69")
        await settle(pilot)
        assert [r.id for r in screen.rows] == [planned[-1]] and table.row_count == 1
        await pilot.press("escape")  # the filter cleared: every class again, from a page
        await settle(pilot)
        assert len(screen.rows) == total and table.row_count == size
        assert screen.current().id == planned[-1]  # still on the class found, on the last page
        table.focus()
        await pilot.press("home")  # the first page
        await settle(pilot)
        assert screen.first == 0 and table.cursor_row == 0
        await pilot.press("end")  # the page's last row, then the first row of the next page
        await pilot.press("down")
        await settle(pilot)
        wanted = screen.current()
        assert table.cursor_row == 0 and wanted is screen.rows[screen.first] and screen.first > 0
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ClassScreen) and app.screen.class_id == wanted.id
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and screen.current().id == wanted.id  # where it was


async def test_class_list_in_english(make_app):
    app = make_app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        text = screen_text(app)
        assert "Plan 2021: 4/5 classes held (80 %), 152 trainees" in text


async def test_plan_a_class_with_the_keyboard(make_app, organiser):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, ClassForm)
        # the kind, then the name proposed, then the dates; an end before the start is refused
        await pilot.press("tab", "tab")
        await type_text(pilot, "01/12/2021")
        await pilot.press("tab")
        await type_text(pilot, "06/12/2021")
        await pilot.press("tab")
        await type_text(pilot, "01/12/2021")
        await pilot.press("tab")
        await type_text(pilot, "Hoi truong xa Van Tung")
        await pilot.press("tab")
        await type_text(pilot, "35")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ClassForm)
        assert "Chưa lưu" in screen_text(app)
        assert "Ngày bế giảng" in screen_text(app)  # the message names the field
        end = app.screen.query_one("#in-end", Input)
        end.value = "10/12/2021"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ClassListScreen)
        assert "Đã mở lớp mới" in screen_text(app)
    rows = [r for r in classes.list_classes(organiser, TODAY, year=2021) if r.name.endswith("khóa 6 năm 2021")]
    assert len(rows) == 1
    row = rows[0]
    assert (row.kind, row.start, row.end, row.capacity, row.status) == (
        "awareness", datetime.date(2021, 12, 6), datetime.date(2021, 12, 10), 35, "planned")
    assert row.place == "Hoi truong xa Van Tung"


async def test_a_secretary_sees_the_districts_classes_but_does_not_plan(make_app):
    app = make_app("demo_secretary")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        text = screen_text(app)
        assert "4/5" in text and "khóa 4 năm 2021" in text
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, ClassForm)
        assert "Chỉ cán bộ tổ chức" in screen_text(app)


# --- changing a class ------------------------------------------------------------------------

async def test_c_changes_a_class_capacity_and_status(make_app, organiser):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_class(pilot, RUNNING)
        assert "38/40" in screen_text(app) and "Đang học" in screen_text(app)
        await pilot.press("c")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ClassForm) and form.row.id == RUNNING
        # prefilled from the class; the kind shown, not a field
        assert form.query_one("#in-planned_start", Input).value == "27/09/2021"
        assert form.query_one("#in-end", Input).value == "01/10/2021"
        assert form.query_one("#in-capacity", Input).value == "40"
        assert "Lớp nhận thức về Đảng" in screen_text(app) and not form.query("#in-kind")
        # the status first: Enter opens it, ↓ from "Đang học" to "Đã xong"
        await pilot.press("enter", "down", "enter")
        await pilot.press(*["tab"] * 6, "ctrl+u")
        await type_text(pilot, "45")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        text = screen_text(app)
        assert "Đã sửa lớp." in text
        assert "38/45" in text and "Đã xong" in text
    row = classes.class_view(organiser, RUNNING, TODAY).row
    assert (row.capacity, row.status) == (45, "finished")
    assert (row.start, row.end, row.place) == (datetime.date(2021, 9, 27), datetime.date(2021, 10, 1),
                                               "Trung tâm Chính trị huyện Ngân Sơn")
    A = models.AuditEntry
    assert A.select().where((A.action == "class_change") & (A.entity_id == RUNNING)).count() == 1


async def test_a_capacity_below_the_enrolled_is_refused_at_the_field(make_app, organiser):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_class(pilot, RUNNING)
        await pilot.press("c")
        await settle(pilot)
        form = app.screen
        await pilot.press("enter", "down", "down", "enter")  # cancelled, with the capacity
        form.query_one("#in-capacity", Input).value = "30"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        text = screen_text(app)
        assert "Chưa lưu" in text
        assert "Lớp đã có 38 học viên: sĩ số tối đa không thể là 30." in text
        capacity = form.query_one("#field-capacity")
        assert capacity.query_one(".form-error").display
        assert app.focused is form.query_one("#in-capacity", Input)
        # an end before the start: said at the end
        form.query_one("#in-capacity", Input).value = "40"
        form.query_one("#in-end", Input).value = "20/09/2021"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "Ngày bế giảng trước ngày khai giảng." in screen_text(app)
        assert app.focused is form.query_one("#in-end", Input)
    row = classes.class_view(organiser, RUNNING, TODAY).row
    assert (row.capacity, row.status, row.end) == (40, "running", datetime.date(2021, 10, 1))
    assert not models.AuditEntry.select().where(models.AuditEntry.action == "class_change").exists()


async def test_nothing_changed_saves_nothing(make_app):
    app = make_app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await open_class(pilot, RUNNING)
        await pilot.press("c")
        await settle(pilot)
        assert "Edit class · khóa 4 năm 2021" in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ClassScreen)
        assert "Nothing was changed." in screen_text(app)
    assert not models.AuditEntry.select().where(models.AuditEntry.action == "class_change").exists()


async def test_a_secretary_does_not_get_the_edit_key(make_app, organiser):
    from tui.widgets import help_rows

    app = make_app("demo_secretary")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_class(pilot, RUNNING)
        assert not [row for row in help_rows([screen]) if row[0] == "c"]
        await pilot.press("c")
        await settle(pilot)
        assert app.screen is screen
        assert "Chỉ cán bộ tổ chức" in screen_text(app)
    # the organiser has it, in the help (the footer is full at 80 columns)
    assert [row for row in help_rows([ClassScreen(AppContext(location="", actor=organiser, today=TODAY),
                                                  RUNNING)]) if row[0] == "c"]


# --- enrolment -------------------------------------------------------------------------------

async def test_enrol_candidates_from_several_branches(make_app, organiser):
    class_id = new_class(organiser)
    offered = classes.candidates(organiser, class_id, TODAY)
    # three people from three branches: two found by typing the branch without diacritics
    first, second, third = offered[0], offered[1], offered[5]
    assert len({first.branch.id, second.branch.id, third.branch.id}) == 3
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_class(pilot, class_id)
        await pilot.press("e")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EnrolScreen)
        table = screen.query_one(PagedTable)
        assert table.row_count == min(len(offered), table.row_count)
        from db.text import fold

        for person in (first, second):
            await pilot.press("slash", "ctrl+u")
            await type_text(pilot, fold(person.branch.name).split(" ", 2)[-1])
            await pilot.press("enter")
            await settle(pilot)
            names = table_names(table, 1)
            assert person.full_name in names
            table.move_cursor(row=names.index(person.full_name))
            await pilot.press("space")
        assert screen.marked == {first.case_id, second.case_id}
        assert table.get_row_at(names.index(second.full_name))[0].plain == "[x]"  # a mark, not colour
        assert table.columns["mark"].label.plain == "Chọn"  # a word, not a mark
        await pilot.press("slash", "ctrl+u", "enter")  # the filter cleared: everyone again
        await settle(pilot)
        names = table_names(table, 1)
        table.move_cursor(row=names.index(third.full_name))
        await pilot.press("space")
        assert "đã chọn 3" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert "Ghi danh 3 người" in screen_text(app)
        await pilot.press("c")
        await settle(pilot)
        assert "Đã ghi danh 3 người" in screen_text(app)
        assert first.full_name not in table_names(table, 1)  # enrolled: no longer offered
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ClassScreen)
        assert "Đã ghi danh 3 người" in screen_text(app)
        assert first.full_name in screen_text(app)
    for person in (first, second, third):
        assert stage_of(person.case_id) == "in_class"
    assert classes.class_view(organiser, class_id, TODAY).row.enrolled == 3


async def test_a_all_marks_everyone_shown(make_app, organiser):
    class_id = new_class(organiser)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_class(pilot, class_id)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("slash")
        await type_text(pilot, "thon")  # "thôn": the village branches
        await pilot.press("enter", "a")
        screen = app.screen
        assert screen.shown and all("thôn" in c.branch.name.lower() for c in screen.shown)
        assert screen.marked == {c.case_id for c in screen.shown}
        assert len(screen.marked) < len(screen.all)


async def test_over_capacity_is_refused_and_nobody_enrolled(make_app, organiser):
    before = classes.class_view(organiser, RUNNING, TODAY).row.enrolled
    offered = classes.candidates(organiser, RUNNING, TODAY)[:3]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_class(pilot, RUNNING)
        await pilot.press("e")
        await settle(pilot)
        screen = app.screen
        screen.marked = {c.case_id for c in offered}
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        text = screen_text(app)
        assert "Chưa ghi danh ai" in text
        assert "Lớp chỉ nhận 40 học viên: đã có 38, thêm 3 là quá" in text
        assert screen.marked == {c.case_id for c in offered}  # kept, to change and try again
    assert classes.class_view(organiser, RUNNING, TODAY).row.enrolled == before
    assert all(stage_of(c.case_id) == "identified" for c in offered)


async def test_enrol_from_the_candidates_file(make_app, organiser):
    planned = next(r for r in classes.list_classes(organiser, TODAY, year=2021, kind="awareness")
                   if r.status == "planned")
    case_id = classes.candidates(organiser, planned.id, TODAY)[0].case_id
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CaseScreen(app.context, case_id))
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, ClassPicker)
        picker = app.screen.query_one(DataTable)
        names = table_names(picker, 0)
        assert "khóa 5 năm 2021" in names and "khóa 1 năm 2021" not in names  # finished: not offered
        picker.move_cursor(row=names.index("khóa 5 năm 2021"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert "Đã ghi danh vào lớp “khóa 5 năm 2021”" in screen_text(app)
    assert stage_of(case_id) == "in_class"


# --- results ---------------------------------------------------------------------------------

def enrolled_class(organiser, count: int = 4) -> tuple[int, list[int]]:
    class_id = new_class(organiser)
    offered = classes.candidates(organiser, class_id, TODAY)
    ids = [c.case_id for c in offered[:count]]
    classes.enrol(organiser, class_id, ids, TODAY)
    return class_id, ids


async def test_results_grid_passes_with_a_series_and_one_fail(make_app, organiser):
    class_id, ids = enrolled_class(organiser)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_class(pilot, class_id)
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        order = [row.trainee.case_id for row in screen.rows]
        assert sorted(order) == sorted(ids)
        await pilot.press("p", "f", "space", "down", "p")  # passed, failed, passed (cycled), passed
        await pilot.press("s")
        await settle(pilot)
        await type_text(pilot, "0201/GCN")
        await pilot.press("enter")
        await settle(pilot)
        table = screen.query_one(PagedTable)
        assert table_names(table, 4) == ["0201/GCN", "", "0202/GCN", "0203/GCN"]
        assert table_names(table, 5) == ["30/09/2021"] * 4
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ClassScreen)
        assert "Đã ghi kết quả của 4 học viên" in screen_text(app)
    assert [stage_of(c) for c in order] == ["certified", "identified", "certified", "certified"]
    view = classes.class_view(organiser, class_id, TODAY)
    numbers = {tr.case_id: tr.certificate_number for tr in view.trainees}
    assert [numbers[c] for c in order] == ["0201/GCN", None, "0202/GCN", "0203/GCN"]
    assert view.row.status == "finished"


async def test_a_number_typed_in_the_editor_goes_to_its_row(make_app, organiser):
    class_id, ids = enrolled_class(organiser, 2)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_class(pilot, class_id)
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        await pilot.press("enter")
        await type_text(pilot, "77/GCN")
        await pilot.press("enter")
        await type_text(pilot, "78/GCN")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ResultsScreen)  # Escape in the field: back to the grid
        assert [(r.result, r.number) for r in screen.rows] == [("passed", "77/GCN"), ("passed", "78/GCN")]


async def test_a_certificate_number_used_twice_saves_nothing(make_app, organiser):
    class_id, ids = enrolled_class(organiser, 3)
    used = (models.Certificate.select().where((models.Certificate.issuer == CENTRE)
                                              & (models.Certificate.kind == "awareness")).first())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_class(pilot, class_id)
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        await pilot.press("p", "p", "p")
        screen.rows[0].number, screen.rows[1].number = "0301/GCN", used.number
        screen.rows[2].number = "0302/GCN"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ResultsScreen)
        text = screen_text(app)
        assert "Chưa lưu gì" in text
        assert f"Số giấy chứng nhận “{used.number}”" in text and "đã được dùng" in text
        # the row refused is marked and has the cursor
        table = screen.query_one(PagedTable)
        assert table.get_row_at(table.cursor_row)[0].plain == "!"
        assert screen.rows[1].refused
    assert all(stage_of(c) == "in_class" for c in ids)
    assert all(tr.result is None for tr in classes.class_view(organiser, class_id, TODAY).trainees)


async def test_a_pass_without_a_number_is_caught_before_saving(make_app, organiser):
    class_id, ids = enrolled_class(organiser, 2)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_class(pilot, class_id)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("p", "p", "ctrl+s")
        await settle(pilot)
        assert "cần số giấy chứng nhận" in screen_text(app)
    assert all(stage_of(c) == "in_class" for c in ids)
