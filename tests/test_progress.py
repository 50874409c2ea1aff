"""The progress figures against counts made independently from the raw rows (tests/demo_figures.py),
for Nà Phặc and the district, as of 30/09/2021, 30/06/2021 and the end of the last term; and a new
admission moving the figures of its branch, its committee and the district at once."""

from __future__ import annotations

import datetime
import json

import pytest

from db import models, pipeline, progress
from db.access import AccessError, account_actor
from tests import demo_figures as fig
from tui import cli

Date = datetime.date
TODAY = Date(2021, 9, 30)
TERM_END = Date(2020, 6, 30)


@pytest.fixture
def admin(demo_db):
    return account_actor("demo_admin")


def independent(code: str, year: int, as_of: Date) -> dict:
    unit = fig.unit_id(code)
    members = fig.member_ids(unit, as_of)
    official = fig.member_ids(unit, as_of, official=True)
    admitted = fig.admitted(unit, Date(year, 1, 1), as_of)
    pending = fig.open_files_at(unit, as_of, ("branch_approved", "committee_approved"))
    classes = fig.classes(unit, year, as_of)
    return {"branches": fig.branch_count(unit, as_of), "members": len(members),
            "official": len(official), "admitted": admitted, "expected": admitted + pending,
            "sent_to_class": fig.sent_to_class(unit, year, as_of), "target": fig.target(unit, year),
            "share": fig.population_share(unit, as_of),
            "classes": (classes["held"], classes["planned"], classes["trainees"]),
            "in_class": fig.open_files_at(unit, as_of, ("in_class",))}


def ours(actor, code: str, year: int, as_of: Date) -> dict:
    s = progress.stats(actor, fig.unit_id(code), year, as_of)
    c = s.classes["awareness"]
    return {"branches": s.branches, "members": s.members, "official": s.members_official,
            "admitted": s.admitted, "expected": s.expected, "sent_to_class": s.sent_to_class,
            "target": s.target, "share": s.members_percent_of_population,
            "classes": (c.held, c.planned, c.trainees), "in_class": s.in_class}


@pytest.mark.parametrize("code, year, as_of", [
    ("NS-NP", 2021, TODAY), ("NS", 2021, TODAY), ("NS-NP", 2021, Date(2021, 6, 30)),
    ("NS", 2021, Date(2021, 6, 30)), ("NS", 2020, TERM_END), ("NS-BV", 2021, TODAY)])
def test_every_figure_equals_a_count_from_the_rows(admin, code, year, as_of):
    assert ours(admin, code, year, as_of) == independent(code, year, as_of)


def test_the_articles_figures(admin):
    np_ = progress.stats_json(progress.stats(admin, fig.unit_id("NS-NP"), 2021, TODAY))
    assert (np_["branches"], np_["members"]["total"], np_["admitted"], np_["sent_to_class"]) == (27, 635, 15, 23)
    assert (np_["expected_by_year_end"], np_["target"], np_["expected_percent"]) == (25, 20, 125.0)
    ns = progress.stats_json(progress.stats(admin, fig.unit_id("NS"), 2021, TODAY))
    assert ns["classes"]["awareness"] == {"held": 4, "planned": 5, "held_percent": 80.0, "trainees": 152}
    assert (ns["admitted"], ns["target"]) == (113, 120)
    before = progress.stats_json(progress.stats(admin, fig.unit_id("NS"), 2020, TERM_END))
    assert (before["members"]["total"], before["members_percent_of_population"]) == (3267, 10.5)
    assert before["term"]["admitted"] == 801 and before["term"]["name"] == "2015–2020"
    assert before["term"]["reorganised"] == {"grassroots": 4, "village_branches": 18,
                                             "agency_branches_dissolved": 7, "agency_branches_at_start": 7}
    assert ns["term"]["target_per_year"] == 120


def test_moving_the_date_back_moves_every_figure_consistently(admin):
    now = progress.stats(admin, fig.unit_id("NS-NP"), 2021, TODAY)
    june = progress.stats(admin, fig.unit_id("NS-NP"), 2021, Date(2021, 6, 30))
    assert june.admitted <= now.admitted and june.sent_to_class <= now.sent_to_class
    assert june.expected == june.admitted + june.funnel["branch_approved"] + june.funnel["committee_approved"]
    assert sum(c.admitted for c in june.children) == june.admitted


def test_children_add_up_and_sort_by_percent(admin):
    ns = progress.stats(admin, fig.unit_id("NS"), 2021, TODAY)
    assert sum(c.admitted for c in ns.children) == ns.admitted
    percents = [c.target_percent for c in ns.children if c.target_percent is not None]
    assert percents == sorted(percents, reverse=True)
    assert all(c.target_percent is not None for c in ns.children[:len(percents)])


def test_a_new_admission_moves_branch_committee_and_district_at_once(admin):
    C = models.CaseFile
    case = C.select().join(models.Unit).where((C.stage == "committee_approved") & C.is_open()
                                              & (models.Unit.code.startswith("NS-NP-"))).first()
    branch = case.branch
    before = {u: progress.stats(admin, u, 2021, TODAY, children=False).admitted
              for u in (branch.id, fig.unit_id("NS-NP"), fig.unit_id("NS"))}
    expected_before = progress.stats(admin, fig.unit_id("NS-NP"), 2021, TODAY, children=False).expected
    pipeline.apply(admin, case.id, pipeline.StepInput("admitted", TODAY, decision="999-QĐ/HU", received=TODAY),
                   TODAY, override_reason="test")
    after = {u: progress.stats(admin, u, 2021, TODAY, children=False).admitted for u in before}
    assert {u: after[u] - before[u] for u in before} == {u: 1 for u in before}
    # it was already expected: admitted + pending stays the same
    assert progress.stats(admin, fig.unit_id("NS-NP"), 2021, TODAY, children=False).expected == expected_before


def test_scope_and_targets(admin):
    secretary = account_actor("demo_secretary")
    own = progress.stats(secretary, None, 2021, TODAY)
    assert own.unit.code == "NS-NP-07"
    with pytest.raises(progress.NotFound):
        progress.stats(secretary, fig.unit_id("NS"), 2021, TODAY)
    with pytest.raises(AccessError):
        progress.set_target(secretary, fig.unit_id("NS-NP-07"), 3, TODAY, year=2021)
    organiser = account_actor("demo_organiser")
    progress.set_target(organiser, fig.unit_id("NS-NP"), 30, TODAY, year=2021, note="Nghị quyết bổ sung")
    assert progress.stats(organiser, fig.unit_id("NS-NP"), 2021, TODAY).target == 30
    history = [r for r in progress.targets(organiser, TODAY, unit_id=fig.unit_id("NS-NP")) if r.year == 2021]
    assert [(r.value, r.current) for r in history[:2]] == [(30, True), (20, False)]


def test_cli_stats_json_and_target(demo_db, capsys):
    user = ("--db", demo_db, "--user", "demo_organiser")
    assert cli.main([*user, "stats", "--unit", "NS-NP", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["admitted"], doc["target"], doc["target_percent"], doc["expected_by_year_end"]) == (15, 20, 75.0, 25)
    assert doc["in_class"] == doc["funnel"]["in_class"] and doc["unit"]["code"] == "NS-NP"
    assert cli.main([*user, "stats", "--year", "2020", "--as-of", "30/06/2020", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["unit"]["code"] == "NS" and doc["members"]["total"] == 3267
    assert cli.main([*user, "--lang", "en", "target", "set", "--unit", "NS-NP", "--year", "2021", "22"]) == 0
    assert "22" in capsys.readouterr().out
    assert cli.main([*user, "target", "list", "--unit", "NS-NP", "--all", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["targets"]
    assert [(r["value"], r["current"]) for r in rows if r["year"] == 2021][:2] == [(22, True), (20, False)]
    assert cli.main(["--db", demo_db, "--user", "demo_viewer", "target", "set", "--unit", "NS", "--year", "2021", "1"]) == 1


def test_breakdown_of_the_years_admissions_from_the_rows(admin):
    from db.calendar import full_months_between

    unit = fig.unit_id("NS")
    got = progress.breakdown(admin, unit, 2021, TODAY)
    S, C, P = models.Step, models.CaseFile, models.Person
    rows = list(S.select(S.date, P.sex, P.ethnicity, P.born, P.youth_union)
                .join(C, on=(S.case == C.id)).join(P, on=(C.person == P.id))
                .where((S.stage == "admitted") & S.undone_at.is_null()
                       & (S.date >= Date(2021, 1, 1)) & (S.date <= TODAY)).tuples())
    assert got["admitted"] == len(rows) == 113  # every 2021 decision is the district's
    assert got["female"] == sum(1 for r in rows if r[1] == "F")
    assert got["ethnic_minority"] == sum(1 for r in rows if r[2] and r[2] != "Kinh")
    assert got["youth_union"] == sum(1 for r in rows if r[4])
    assert got["age_18_30"] == sum(1 for r in rows if r[3] and 216 <= full_months_between(r[3], r[0]) < 372)
    assert sum(got["occupation"].values()) == 113


def test_time_in_stage(admin):
    times = {t.stage: t for t in progress.stage_times(admin, fig.unit_id("NS"), TODAY)}
    assert times["in_class"].median_days is not None and times["in_class"].median_days < 30
    assert times["probationary"].median_days >= 365  # twelve months of probation, then the review
    worst = times["identified"].slowest
    assert worst == tuple(sorted(worst, key=lambda w: -w[2]))


def test_export_report_xlsx_reads_back_and_adds_up(demo_db, tmp_path, capsys):
    from openpyxl import load_workbook

    path = tmp_path / "bao-cao.xlsx"
    assert cli.main(["--db", demo_db, "--user", "demo_organiser", "export", "report", "--unit", "NS",
                     "--year", "2021", "--as-of", "30/09/2021", "--format", "xlsx", "-o", str(path)]) == 0
    assert path.stat().st_mode & 0o077 == 0
    sheet = load_workbook(path).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][0] == "ĐẢNG BỘ TỈNH BẮC KẠN" and "ĐẢNG CỘNG SẢN VIỆT NAM" in cells[0]
    assert cells[1][0] == "HUYỆN ỦY NGÂN SƠN" and cells[3][0].endswith("-BC/HU")
    assert "Ngân Sơn, ngày 30 tháng 9 năm 2021" in cells[2]
    head = next(i for i, row in enumerate(cells) if row[0] == "STT")
    headers = cells[head]
    total_at = next(i for i, row in enumerate(cells) if row[1] == "Tổng cộng")
    rows = cells[head + 1:total_at]
    assert len(rows) == 31
    district = progress.stats(account_actor("demo_organiser"), fig.unit_id("NS"), 2021, TODAY)
    expected = {"Đã kết nạp": district.admitted, "Dự kiến cả năm": district.expected,
                "Tổng số đảng viên": district.members, "Cử đi học lớp nhận thức": district.sent_to_class}
    for header, value in expected.items():
        col = headers.index(header)
        assert sum(row[col] or 0 for row in rows) == cells[total_at][col] == value, header
    nu = headers.index("Nữ")
    assert cells[total_at][nu] == progress.breakdown(account_actor("demo_organiser"), fig.unit_id("NS"), 2021, TODAY)["female"]


def test_export_report_csv_to_standard_output(demo_db, capsys):
    assert cli.main(["--db", demo_db, "--user", "demo_organiser", "--lang", "en", "export", "report",
                     "--unit", "NS-NP", "--format", "csv", "-o", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ĐẢNG BỘ HUYỆN NGÂN SƠN") and any(line.startswith("No.,Unit,Target") for line in lines)
    total = next(line for line in lines if line.startswith(",Total,"))
    assert total.split(",")[3] == "15"


def test_admissions_counted_up_to_each_month_end(admin):
    unit = fig.unit_id("NS-NP")
    ends = [Date(2021, m + 1, 1) - datetime.timedelta(days=1) for m in range(1, 9)] + [TODAY]
    got = progress.admitted_by(admin, unit, 2021, ends)
    assert got == [fig.admitted(unit, Date(2021, 1, 1), day) for day in ends]
    assert got[-1] == 15 and got == sorted(got)


def test_the_lists_behind_the_numbers(admin):
    unit = fig.unit_id("NS-NP")
    s = progress.stats(admin, unit, 2021, TODAY)
    admitted = progress.admitted_list(admin, unit, 2021, TODAY)
    assert len(admitted) == s.admitted == 15 and all(b.what and b.what.endswith("-QĐ/HU") for b in admitted)
    assert [b.date for b in admitted] == sorted(b.date for b in admitted)
    sent = progress.sent_to_class_list(admin, unit, 2021, TODAY)
    assert len(sent) == s.sent_to_class == 23 and len({b.person_id for b in sent}) == 23
    members = progress.members_list(admin, unit, TODAY)
    assert len(members) == s.members == 635
    assert sum(b.what == "official" for b in members) == s.members_official
    assert {b.person_id for b in members} == fig.member_ids(unit, TODAY)
    with pytest.raises(progress.NotFound):
        progress.members_list(account_actor("demo_secretary"), unit, TODAY)


def test_the_admissions_of_the_term_and_of_each_month(admin):
    """admitted_list over other spans than the year's: the term's (behind the term line) and
    each month's (behind a bar of the chart), against counts from the raw rows."""
    for code in ("NS-NP", "NS"):
        unit = fig.unit_id(code)
        s = progress.stats(admin, unit, 2021, TODAY)
        # the defaults are the year's admissions up to the as-of date
        assert (progress.admitted_list(admin, unit, 2021, TODAY)
                == progress.admitted_list(admin, unit, 2021, TODAY, first=Date(2021, 1, 1), last=TODAY))
        term = progress.admitted_list(admin, unit, 2021, TODAY, first=s.term.start, last=TODAY)
        assert len(term) == s.term.admitted == fig.admitted(unit, s.term.start, TODAY) > s.admitted
        assert all(s.term.start <= b.date <= TODAY for b in term)
        assert len({b.case_id for b in term}) == len(term)
        ends = [Date(2021, m + 1, 1) - datetime.timedelta(days=1) for m in range(1, 9)] + [TODAY]
        cumulative = progress.admitted_by(admin, unit, 2021, ends)
        total = 0
        for index, last in enumerate(ends):
            first = Date(2021, index + 1, 1)
            month = progress.admitted_list(admin, unit, 2021, TODAY, first=first, last=last)
            assert all(first <= b.date <= last for b in month)
            assert len(month) == fig.admitted(unit, first, last)
            assert len(month) == cumulative[index] - (cumulative[index - 1] if index else 0)
            total += len(month)
        assert total == s.admitted
    assert fig.admitted(fig.unit_id("NS-NP"), Date(2020, 7, 1), TODAY) == 23  # the demo's term line
    with pytest.raises(progress.NotFound):  # the scope is checked for any span
        progress.admitted_list(account_actor("demo_secretary"), fig.unit_id("NS"), 2021, TODAY,
                               first=Date(2020, 7, 1), last=TODAY)


def _all_pages(actor, unit, as_of, limit, name_filter=None):
    """Every page of members_page read one after the other (by `after`), and back (by `before`)."""
    pages, after = [], None
    while True:
        page = progress.members_page(actor, unit, as_of, after=after, limit=limit, name_filter=name_filter)
        assert page.has_before == (after is not None)
        pages.append(page)
        if not page.has_after:
            break
        assert len(page.rows) == limit
        after = page.rows[-1].cursor
    last = pages[-1].rows[-1] if pages[-1].rows else None
    backwards = []
    before = (last.sort_key, last.person_id + 1) if last else None  # just past the last row
    while before is not None:
        page = progress.members_page(actor, unit, as_of, before=before, limit=limit, name_filter=name_filter)
        backwards.insert(0, page)
        before = page.rows[0].cursor if page.has_before else None
    return [row for page in pages for row in page.rows], [row for page in backwards for row in page.rows]


@pytest.mark.parametrize("few_units", [500, 0])  # 0: read as for a province's many units
@pytest.mark.parametrize("code,as_of", [("NS-NP", TODAY), ("NS", TODAY), ("NS", TERM_END),
                                        ("BK", Date(2021, 6, 30)), ("NS-NP-01", TODAY)])
def test_the_members_list_read_a_page_at_a_time_is_the_whole_list(admin, monkeypatch, few_units, code, as_of):
    """The members behind the figure, read a page at a time in SQL, are members_list: the same
    people in the same order with the same branch, ceremony, file and status; and the count."""
    monkeypatch.setattr(progress, "_FEW_UNITS", few_units)
    unit = fig.unit_id(code)
    whole = progress.members_list(admin, unit, as_of)
    assert whole  # a list to page through
    forwards, backwards = _all_pages(admin, unit, as_of, limit=37)
    assert forwards == whole
    assert backwards == whole  # PageUp from the end back to the first row
    official = sum(b.what == "official" for b in whole)
    assert progress.members_count(admin, unit, as_of) == (official, len(whole) - official)


@pytest.mark.parametrize("few_units", [500, 0])
def test_the_members_pages_filtered_by_name_and_out_of_scope(admin, monkeypatch, few_units):
    monkeypatch.setattr(progress, "_FEW_UNITS", few_units)
    unit = fig.unit_id("NS")
    whole = progress.members_list(admin, unit, TODAY)
    word = whole[0].full_name.split()[-1]  # a given name, with its diacritics
    from db.text import fold

    wanted = [b for b in whole if any(w.startswith(fold(word)) for w in fold(b.full_name).split())]
    assert 0 < len(wanted) < len(whole)
    forwards, _back = _all_pages(admin, unit, TODAY, limit=10, name_filter=fold(word))
    assert forwards == wanted
    official = sum(b.what == "official" for b in wanted)
    assert progress.members_count(admin, unit, TODAY, name_filter=word) == (official, len(wanted) - official)
    assert progress.members_page(admin, unit, TODAY, name_filter="zzzzqq").rows == ()
    with pytest.raises(progress.NotFound):
        progress.members_page(account_actor("demo_secretary"), unit, TODAY)
    with pytest.raises(progress.NotFound):
        progress.members_count(account_actor("demo_secretary"), unit, TODAY)


def test_a_list_kept_as_keys_reads_the_same_rows_a_page_at_a_time(demo_db):
    """A screen keeps a long list behind a figure as its keys and reads a page's rows: pages
    read one after another are the rows of the whole list, in date then name order."""
    from db import progress as p
    from db.access import first_admin

    actor = first_admin()
    nap = models.Unit.get(models.Unit.code == "NS").id
    day = datetime.date(2021, 9, 30)
    for keys, rows_of in ((p.admitted_keys(actor, nap, 2021, day, first=datetime.date(2020, 7, 1)), p.admitted_rows),
                          (p.sent_keys(actor, nap, 2021, day), p.sent_rows)):
        assert len(keys) > 10
        whole = rows_of(keys)
        paged = [row for start in range(0, len(keys), 7) for row in rows_of(keys[start:start + 7])]
        assert paged == whole
        assert [(r.person_id, r.case_id, r.date) for r in whole] == [k[:3] for k in keys]
        names = {r.person_id: models.Person.get_by_id(r.person_id).sort_key for r in whole}
        assert [(r.date, names[r.person_id]) for r in whole] == sorted((r.date, names[r.person_id]) for r in whole)
