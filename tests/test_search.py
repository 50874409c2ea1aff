"""Search everywhere: the ranking (db.search), units, scope and names only, `ketnap find` in the
screen's order, the Ctrl+F screen and what Enter opens, and the `/` filter of the lists."""

from __future__ import annotations

import datetime
import json

import pytest

from db import cases, models, search
from db.access import account_actor
from db.text import fold
from db.units import find_unit
from screens.case import CaseScreen
from screens.main import MainScreen
from screens.search import SearchScreen
from screens.worklist import WorklistScreen
from tests.test_db_read import make_person, make_unit
from tests.ui_helpers import open_unit, screen_text, settle
from tui import cli
from tui.widgets import PagedTable, UnitTree

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)


def names(results) -> list[str]:
    return [r.full_name for r in results]


# --- ranking ---------------------------------------------------------------------------------

def test_hoat_finds_nong_van_hoat(demo_admin):
    assert "Nông Văn Hoạt" in names(cases.find(demo_admin, "hoat", TODAY))
    assert names(cases.find(demo_admin, "nong van hoat", TODAY))[0] == "Nông Văn Hoạt"
    assert names(cases.find(demo_admin, "NÔNG VĂN HOẠT", TODAY))[0] == "Nông Văn Hoạt"


def test_dang_finds_dang(demo_admin):
    found = cases.find(demo_admin, "dang", TODAY, limit=50)
    assert any(r.full_name.startswith("Đặng") for r in found)
    # every one of them has a word starting with "dang" once folded (đ is d)
    assert all(any(word.startswith("dang") for word in fold(r.full_name).split()) for r in found)


@pytest.fixture
def ranked_branch(demo_db):
    town = models.Unit.get(models.Unit.code == "NS-NP")
    branch = make_unit("ZZ-01", "Chi bộ thôn Thử Nghiệm", "branch", town, founded=datetime.date(2000, 1, 1))
    people = {
        "prefix": make_person("Hoàng Văn Bình", branch),       # a word starts with "hoa"
        "prefix_given": make_person("Lê Thị Hoài", branch),    # the given name starts with it
        "whole": make_person("Hoa Thị Lan", branch),           # a whole word, not the given name
        "whole_given_b": make_person("Lê Văn Hoa", branch),    # the given name, whole
        "whole_given_a": make_person("Bế Thị Hoa", branch),    # the same, earlier in name order
        "exact": make_person("Hoa", branch),                   # the whole name
        "other": make_person("Lò Văn Sáng", branch),           # no match
    }
    return branch, {key: p.id for key, p in people.items()}


EXPECTED = ["exact", "whole_given_a", "whole_given_b", "whole", "prefix_given", "prefix"]


def test_ranking_exact_then_whole_words_given_name_first_then_prefixes(ranked_branch):
    branch, ids = ranked_branch
    order = {pid: key for key, pid in ids.items()}
    found = search.matching_person_ids("hoa", 20, branch_ids=[branch.id])
    assert [order[pid] for pid in found] == EXPECTED


def test_ranking_is_the_same_through_the_full_text_index(ranked_branch, monkeypatch):
    branch, ids = ranked_branch
    order = {pid: key for key, pid in ids.items()}
    monkeypatch.setattr(search, "SMALL_SCOPE", 0)  # not row by row: the tiered index queries
    scoped = search.matching_person_ids("hoa", 20, branch_ids=[branch.id])
    assert [order[pid] for pid in scoped] == EXPECTED
    # the whole demo: ours in the same order (those read: a tier reads TIER_CAP rows at most)
    everyone = search.matching_person_ids("hoa", 500)
    ours = [order[pid] for pid in everyone if pid in order]
    assert ours == [key for key in EXPECTED if key in ours] and len(ours) >= 4
    assert everyone[0] == ids["exact"]


def test_two_words_rank_whole_words_before_prefixes(ranked_branch):
    branch, ids = ranked_branch
    found = search.matching_person_ids("le hoa", 20, branch_ids=[branch.id])
    assert found == [ids["whole_given_b"], ids["prefix_given"]]  # Lê Văn Hoa, then Lê Thị Hoài


def test_a_common_word_reads_a_bounded_number_of_rows(ranked_branch, monkeypatch):
    """Past TIER_CAP matches a tier is ranked within what it read: still `limit` results."""
    monkeypatch.setattr(search, "TIER_CAP", 5)
    found = search.matching_person_ids("thi", 3)
    assert len(found) == 3


def test_scope_stays_inside_the_query(demo_db):
    secretary = account_actor("demo_secretary")
    own = models.Unit.get_by_id(secretary.unit_id)
    outsider = (models.Person.select().where(models.Person.branch != own.id)
                .where(models.Person.branch.is_null(False)).first())
    found = cases.find(secretary, outsider.full_name, TODAY, limit=50)
    assert all(r.branch is not None and r.branch.id == own.id for r in found if r.public_role is None)
    assert outsider.id not in [r.person_id for r in found]


def test_names_only_for_a_viewer(demo_db):
    viewer = account_actor("demo_viewer")
    admin = account_actor("tester")
    person = models.Person.select().where(models.Person.phone.is_null(False)).first()
    assert person.id in [r.person_id for r in cases.find(admin, person.phone, TODAY)]
    assert cases.find(viewer, person.phone, TODAY) == []
    assert cases.find(viewer, person.citizen_id or "000000000000", TODAY) == []


# --- units -----------------------------------------------------------------------------------

def test_units_by_name_or_code_current_only_in_scope(demo_db):
    admin = account_actor("tester")
    found = cases.find_units(admin, "na phac", TODAY)
    assert found[0].code == "NS-NP"  # the committee before the branches named after it
    assert all("na phac" in fold(u.name) for u in found)
    assert [u.code for u in cases.find_units(admin, "ns-np-01", TODAY)][0] == "NS-NP-01"
    # "Đảng bộ" / "Chi bộ" starts every name: it finds nothing by itself
    assert all("dang" in fold(u.name).split(" ", 2)[2] for u in cases.find_units(admin, "dang", TODAY))
    town = models.Unit.get(models.Unit.code == "NS-NP")
    make_unit("ZZ-OLD", "Chi bộ thôn Cũ Kỹ", "branch", town, ended=datetime.date(2020, 1, 1))
    assert cases.find_units(admin, "cu ky", TODAY) == []
    secretary = account_actor("demo_secretary")
    assert [u.id for u in cases.find_units(secretary, "na phac", TODAY)] in ([], [secretary.unit_id])


# --- ketnap find -----------------------------------------------------------------------------

def test_find_json_keeps_its_shape_adds_units_in_the_screens_order(demo_db, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    status = cli.main(["--db", demo_db, "--user", "demo_admin", "--today", "2021-09-30",
                       "find", "nong van hoat", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert status == 0
    assert doc["results"][0]["full_name"] == "Nông Văn Hoạt"
    assert set(doc["results"][0]) >= {"person_id", "full_name", "born", "branch", "case_id", "stage"}
    assert doc["units"] == []
    cli.main(["--db", demo_db, "--user", "demo_admin", "--today", "2021-09-30",
              "find", "hoang thi", "--json", "--limit", "30"])
    doc = json.loads(capsys.readouterr().out)
    screen, _ = cases.find_everything(account_actor("demo_admin"), "hoang thi", TODAY, limit=30)
    assert [r["person_id"] for r in doc["results"]] == [r.person_id for r in screen]
    cli.main(["--db", demo_db, "--user", "demo_admin", "--today", "2021-09-30",
              "find", "na phac", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["units"][0] == {"code": "NS-NP", "name": "Đảng bộ thị trấn Nà Phặc", "level": "commune"}
    cli.main(["--db", demo_db, "--user", "demo_admin", "--today", "2021-09-30", "find", "na phac"])
    assert "NS-NP-01" in capsys.readouterr().out


# --- the search screen -----------------------------------------------------------------------

async def _search(pilot, text: str) -> SearchScreen:
    await pilot.press("ctrl+f")
    await settle(pilot)
    assert isinstance(pilot.app.screen, SearchScreen)
    await pilot.press(*text)
    await settle(pilot)
    return pilot.app.screen


def _result_rows(screen: SearchScreen) -> list[str]:
    from textual.widgets import DataTable

    table = screen.query_one("#search-results", DataTable)
    return [table.get_row_at(i)[1].plain for i in range(table.row_count)]


async def test_ctrl_f_hoang_thi_opens_the_third_hit(make_demo_app):
    app = make_demo_app("demo_admin")
    expected, _ = cases.find_everything(account_actor("demo_admin"), "hoang thi", TODAY, limit=51)
    third = expected[2]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await _search(pilot, "hoang thi")
        assert _result_rows(screen)[:3] == [r.full_name for r in expected[:3]]
        assert "  3." in screen_text(app)  # the rows are numbered
        await pilot.press("down", "down", "down", "enter")
        await settle(pilot)
        if third.last_case_id is not None:
            assert isinstance(app.screen, CaseScreen) and app.screen.case_id == third.last_case_id
        else:
            assert isinstance(app.screen, MainScreen)
            table = app.screen.query_one(PagedTable)
            assert app.screen.unit.id == third.branch.id
            assert app.screen.page.rows[table.cursor_row].id == third.person_id


async def test_keys_typed_ahead_of_the_results_are_played_when_they_come(make_demo_app):
    """Over a slow link the name, Down and Enter may all arrive before the search is done."""
    app = make_demo_app("demo_admin")
    expected, _ = cases.find_everything(account_actor("demo_admin"), "hoang thi", TODAY, limit=51)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await pilot.pause()
        screen = app.screen
        await pilot.press(*"hoang thi")
        screen._seq += 1  # as if the search typed last were still on its way
        screen._shown_text = "hoang th"
        await pilot.press("down", "down", "enter")
        assert screen._ahead == ["down", "down", "enter"]
        screen._search(screen._seq, "hoang thi")
        await settle(pilot)
        second = expected[1]
        if second.last_case_id is not None:
            assert isinstance(app.screen, CaseScreen) and app.screen.case_id == second.last_case_id
        else:
            assert isinstance(app.screen, MainScreen)
            assert app.screen.page.rows[app.screen.query_one(PagedTable).cursor_row].id == second.person_id


async def test_enter_on_an_open_file_a_closed_file_a_person_and_a_unit(make_demo_app, demo_db):
    admin = account_actor("demo_admin")
    C = models.CaseFile
    P = models.Person
    open_case = C.select().join(P).where(C.is_open() & P.citizen_id.is_null(False)).first()
    town = models.Unit.get(models.Unit.code == "NS-NP")
    branch = make_unit("ZZ-02", "Chi bộ thôn Khuổi Thử", "branch", town)
    nobody = make_person("Triệu Văn Xyzab", branch)
    closed = make_person("Triệu Văn Xyzac", branch)
    closed_case = C.create(person=closed, branch=branch, stage="identified", status="closed",
                           outcome="withdrawn", closed_on=datetime.date(2021, 1, 4))
    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # an open file: the case screen; Escape comes back to the results
        await _search(pilot, open_case.person.citizen_id)
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == open_case.id
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("escape")
        await settle(pilot)
        # a person with no file: the branch listed, the person highlighted
        await _search(pilot, "xyzab")
        await pilot.press("enter", "enter")
        await settle(pilot)
        main = app.screen
        assert isinstance(main, MainScreen) and main.unit.id == branch.id
        assert main.page.rows[main.query_one(PagedTable).cursor_row].id == nobody.id
        # a person whose only file is closed: that file
        await _search(pilot, "xyzac")
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == closed_case.id
        await pilot.press("escape", "escape")
        await settle(pilot)
        # a unit: chosen in the tree, its people listed
        await _search(pilot, "ns-np-01")
        unit = find_unit(admin, "NS-NP-01", TODAY)
        screen = app.screen
        index = [r for r in _result_rows(screen)].index("TDP Nà Phặc")
        await pilot.press("down", *["down"] * index, "enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and app.screen.unit.id == unit.id
        assert app.screen.query_one(UnitTree).cursor_node.data.id == unit.id


async def test_ctrl_f_from_another_screen_and_from_a_text_field(make_demo_app):
    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, find_unit(account_actor("demo_admin"), "NS-NP", TODAY).id)
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)
        await pilot.press("slash")  # a text field has the focus
        screen = await _search(pilot, "hoat")
        assert "Nông Văn Hoạt" in _result_rows(screen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)


async def test_a_viewer_finds_nobody_by_citizen_id(make_demo_app):
    person = models.Person.select().where(models.Person.citizen_id.is_null(False)).first()
    app = make_demo_app("demo_viewer")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await _search(pilot, person.citizen_id)
        assert _result_rows(screen) == []


# --- the / filter ----------------------------------------------------------------------------

async def test_slash_filters_the_people_list_in_the_database(make_demo_app):
    admin = account_actor("demo_admin")
    town = find_unit(admin, "NS-NP", TODAY)
    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, town.id)
        main = app.screen
        everyone = main.count
        await pilot.press("slash", *"thi")
        await settle(pilot)
        assert main.filter_text == "thi"
        assert 0 < main.count < everyone
        assert all(any(w.startswith("thi") for w in fold(r.full_name).split()) for r in main.page.rows)
        assert "lọc “thi”" in screen_text(app)
        await pilot.press("enter")  # into the list: the filter stays
        await settle(pilot)
        assert isinstance(app.focused, PagedTable) and main.filter_text == "thi"
        assert main.query_one("#people-filter-row").display
        main.apply_filter("nong")
        await settle(pilot)
        assert main.count and all("nong" in fold(r.full_name) for r in main.page.rows)
        await pilot.press("slash", "escape")  # Escape in the field: cleared
        await settle(pilot)
        assert main.filter_text == "" and main.count == everyone
        assert not main.query_one("#people-filter-row").display


async def test_slash_filters_the_work_list(make_demo_app):
    admin = account_actor("demo_admin")
    town = find_unit(admin, "NS-NP", TODAY)
    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, town.id)
        await pilot.press("w")
        await settle(pilot)
        screen = app.screen
        everyone = screen.total
        word = fold(screen.items[0].full_name).split()[-1]
        await pilot.press("slash", *word)
        await settle(pilot)
        assert 0 < screen.total <= everyone and len(screen.items) == min(screen.total, screen._page_size())
        assert all(any(w.startswith(word) for w in fold(i.full_name).split()) for i in screen.items)
        await pilot.press("escape")
        await settle(pilot)
        assert screen.total == everyone and isinstance(app.screen, WorklistScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


@pytest.mark.parametrize("names_only", [False, True])
def test_a_scope_searched_row_by_row_gives_what_ranking_every_row_gives(demo_db, names_only):
    """In a commune's scope the rows are filtered by SQLite before Python ranks them: the result
    is the one of ranking every person of the scope (rank_key over all of them)."""
    commune = models.Unit.get(models.Unit.code == "NS-NP")
    from db.units import subtree_ids

    branches = subtree_ids(account_actor("demo_admin"), commune.id, datetime.date(2021, 9, 30))
    P = models.Person
    everyone = list(P.select(P.id, P.name_folded, P.other_folded, P.citizen_id, P.phone, P.sort_key)
                    .where(P.branch.in_(branches) | (P.branch.is_null() & P.public_role.is_null(False)))
                    .tuples())
    tried = 0
    for text in ("hoang thi", "thi", "nong van h", "van", "dang", "hoa", "0", "ma thi q", "lo"):
        tokens = search._TOKEN.findall(fold(text))
        keys = sorted(k for row in everyone
                      if (k := search.rank_key(row, tokens, " ".join(tokens), names_only)) is not None)
        expected = [k[3] for k in keys[:30]]
        found = search.matching_person_ids(text, 30, branch_ids=branches, names_only=names_only)
        assert found == expected, text
        tried += bool(expected)
    assert tried >= 7
