"""The same program on PostgreSQL: `ketnap demo` and `ketnap synth` give the same figures there as
on SQLite (`stats --json` of both compared), and the search finds the same people in the same
order. Needs a server (--pg URL or KETNAP_TEST_PG): skipped without one, a failure in CI."""

from __future__ import annotations

import json

import pytest

from db import connection
from tests.test_cli import isolated  # noqa: F401 (an autouse fixture: no outside KETNAP_*, no config)
from tui import cli


# units and days of the demo whose figures an operator reads: the district, a commune (the
# article's Nà Phặc), this year, last year, the last day of the previous term
DEMO_STATS = [
    ("NS", "2021", "2021-09-30"), ("NS-NP", "2021", "2021-09-30"), ("NS-NP", "2020", "2020-12-31"),
    ("NS", "2020", "2020-06-30"), ("NS-BV", "2021", "2021-06-15"),
]


@pytest.fixture(autouse=True)
def closed_after():
    """Each test's connection closed after it (the CLI leaves the last one open)."""
    yield
    connection.close_database()


def _json(capsys, *args) -> dict:
    status = cli.main([str(a) for a in args])
    out = capsys.readouterr().out
    assert status == 0, out
    return json.loads(out)


def _stats(capsys, location: str, unit: str, year: str, as_of: str) -> dict:
    return _json(capsys, "--db", location, "stats", "--unit", unit, "--year", year, "--as-of", as_of, "--json")


@pytest.fixture
def both(tmp_path, postgres):
    """A SQLite file and an empty PostgreSQL database."""
    location = postgres.create()
    yield str(tmp_path / "lite.sqlite3"), location
    connection.close_database()
    postgres.drop(location)


def test_demo_figures_are_the_same_on_postgresql(both, capsys):
    lite, pg = both
    for location in both:
        assert cli.main(["--db", location, "demo"]) == 0
    capsys.readouterr()
    for unit, year, as_of in DEMO_STATS:
        on_sqlite = _stats(capsys, lite, unit, year, as_of)
        on_postgres = _stats(capsys, pg, unit, year, as_of)
        assert on_postgres == on_sqlite, (unit, year, as_of)
    # and the article's figures are there, not only equal
    np_2021 = _stats(capsys, pg, "NS-NP", "2021", "2021-09-30")
    assert (np_2021["branches"], np_2021["members"]["total"], np_2021["admitted"]) == (27, 635, 15)
    # the same search, the same people in the same order
    for text in ("nong van", "hoat", "thi h", "na phac", "00030"):
        found = [_json(capsys, "--db", location, "--today", "2021-09-30", "find", text, "--json", "--limit", "30")
                 for location in both]
        assert found[0] == found[1], text
    # the work list: the same files, the same next actions and due dates
    lists = [_json(capsys, "--db", location, "--today", "2021-09-30", "worklist", "--json") for location in both]
    assert lists[0] == lists[1] and lists[0]["items"]


def test_synthetic_province_figures_are_the_same_on_postgresql(both, capsys):
    lite, pg = both
    for location in both:
        assert cli.main(["--db", location, "synth", "--people", "3000", "--seed", "5"]) == 0
    capsys.readouterr()
    top = _json(capsys, "--db", lite, "units", "--json")[0]  # the province
    codes = [top["code"]] + [child["code"] for child in top.get("children", [])[:2]]
    for code in codes:
        for year, as_of in (("2026", "2026-06-30"), ("2025", "2025-12-31")):
            assert _stats(capsys, pg, code, year, as_of) == _stats(capsys, lite, code, year, as_of), (code, year)


def test_a_server_that_is_not_there_is_refused_with_a_message(capsys):
    status = cli.main(["--lang", "en", "--db", "postgresql://127.0.0.1:1/ketnap", "units"])
    _, err = capsys.readouterr()
    assert status == 1 and "Cannot open the database" in err


def test_migrate_to_copies_a_sqlite_database_whole_and_refuses_a_database_with_data(both, capsys):
    lite, pg = both
    assert cli.main(["--db", lite, "demo"]) == 0
    # a unit founded after the units it will hold: written parents first all the same
    assert cli.main(["--db", lite, "--today", "2021-09-30", "unit", "change", "merge", "--decision", "1-QĐ/TU",
                     "--decided", "2021-08-20", "--effective", "2021-09-01", "--from", "NS-BV", "--from", "NS-CD",
                     "--into", "Đảng bộ xã Bằng Cốc", "--code", "NS-BC"]) == 0
    capsys.readouterr()
    moved = _json(capsys, "--db", lite, "migrate-to", pg, "--json")
    assert moved["ok"] and moved["rows"]["person"] > 0 and moved["audit_entries"] > 0
    for unit, year, as_of in DEMO_STATS[:3]:
        assert _stats(capsys, pg, unit, year, as_of) == _stats(capsys, lite, unit, year, as_of)
    assert _json(capsys, "--db", pg, "units", "--json") == _json(capsys, "--db", lite, "units", "--json")
    # the copy passes every check, audit chain included, and takes new rows with new ids
    assert cli.main(["--db", pg, "check"]) == 0
    assert cli.main(["--db", pg, "users", "add", "new_organiser", "--role", "organiser", "--unit", "NS"]) == 0
    capsys.readouterr()
    status = cli.main(["--lang", "en", "--db", lite, "migrate-to", pg])
    assert status == 1 and "already holds data" in capsys.readouterr().err


def test_backup_of_a_postgresql_database_is_a_pg_dump_archive(both, tmp_path, capsys):
    from db import backup

    _lite, pg = both
    assert cli.main(["--db", pg, "demo"]) == 0
    capsys.readouterr()
    if backup.pg_dump_program() is None:
        pytest.skip("no pg_dump")
    done = _json(capsys, "--db", pg, "backup", str(tmp_path / "x.dump"), "--json")
    data = (tmp_path / "x.dump").read_bytes()
    assert done["ok"] and data.startswith(b"PGDMP") and done["people"] > 0
    assert (tmp_path / "x.dump").stat().st_mode & 0o077 == 0


def test_a_database_that_sorts_text_by_a_language_is_refused_with_how_to_make_one(postgres, capsys):
    """Names and pages come in byte order on SQLite; a PostgreSQL database with a language's
    collation (here an ICU locale) would list them in another order, so it is refused."""
    name = "ketnap_test_collation"
    with postgres._admin() as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}"')
        con.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'vi-VN' "
                    "LOCALE 'C.UTF-8'")
    postgres.made.append(name)
    status = cli.main(["--lang", "en", "--db", postgres.location(name), "units"])
    err = capsys.readouterr().err
    assert status == 1 and "sorts text by the rules of “ICU”" in err and "LC_COLLATE 'C'" in err
    made = postgres.create()  # as the tests (and the README) make one: accepted
    assert cli.main(["--db", made, "init"]) == 0


def test_a_password_in_a_server_url_is_never_printed(capsys):
    status = cli.main(["--lang", "en", "--db", "postgresql://ketnap:s3cret@127.0.0.1:1/ketnap", "units"])
    captured = capsys.readouterr()
    assert status == 1 and "s3cret" not in captured.out + captured.err
    from db.connection import shown_location

    assert shown_location("postgresql://k:s3cret@db:5433/x?sslmode=require") == "postgresql://k:***@db:5433/x?sslmode=require"
