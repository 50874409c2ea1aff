"""The terminal benchmark's harness (tests/bench_terminal.py) on the demo, two runs each, so that
it cannot rot: it produces figures, and its byte counter counts bytes. Nothing is timed here."""

from __future__ import annotations

import sys

import pytest

from tests import bench_terminal as bench


@pytest.fixture
def subject(demo_db):
    return bench.open_subject(demo_db)


def test_the_subject_is_a_commune_with_its_people(subject):
    assert subject.unit_name == "Đảng bộ thị trấn Nà Phặc"
    assert len(subject.rows) > 100
    assert all(len(row) == 4 and row[0] for row in subject.rows)


def test_pagedown_is_timed_in_ketnap_and_in_the_baseline(subject):
    ketnap = bench.time_keys(lambda: bench.ketnap_app(subject), bench.open_people_list, "pagedown",
                             bench.people_page_state, 2)
    base = bench.time_keys(lambda: bench.table_app(subject.rows), (), "pagedown", bench.table_state, 2)
    assert len(ketnap) == len(base) == 2
    assert all(ms > 0 for ms in ketnap + base)


def test_a_key_that_changes_nothing_is_reported_not_timed(subject):
    # the first row of the list does not change on Up at the top of the first page
    with pytest.raises(RuntimeError, match="changed nothing"):
        bench.time_keys(lambda: bench.ketnap_app(subject), bench.open_people_list, "up",
                        bench.people_page_state, 1, timeout=0)


def test_the_filter_stand_in_is_timed(subject):
    opener, candidates = bench.enrol_screen_opener(subject)
    assert opener is not None and candidates
    ketnap = bench.time_keys(lambda: bench.ketnap_app(subject), opener, bench.FILTER_KEYS, bench.filter_state, 2)
    base = bench.time_keys(lambda: bench.table_app(candidates, columns=bench.CANDIDATE_COLUMNS, with_filter=True),
                           (), bench.FILTER_KEYS, bench.filter_state, 2)
    assert all(ms > 0 for ms in ketnap + base) and len(ketnap) == len(base) == 2


def test_the_key_figures_table_has_numbers(subject):
    rows = bench.key_figures(subject, 2, "demo")
    assert [row.name for row in rows][:4] == ["PageDown in the people list, p50", "PageDown in the people list, p95",
                                              "search (Ctrl+F), 1 key, p50", "search (Ctrl+F), 1 key, p95"]
    assert all(row.ours > 0 and row.base > 0 and row.people == "demo" for row in rows)
    assert all(row.aim is not None for row in rows if row.name.endswith("p95"))


def test_the_search_is_timed_until_its_results_show(subject):
    ketnap = bench.time_keys(lambda: bench.ketnap_app(subject), bench.open_search, bench.SEARCH_KEYS,
                             bench.search_state, 2)
    assert all(ms > 0 for ms in ketnap) and len(ketnap) == 2


def test_p95():
    assert bench.p95([5.0, 1.0, 3.0]) == 5.0
    assert bench.p95(list(map(float, range(1, 101)))) == 95.0


def test_the_byte_counter_counts_every_byte_in_a_terminal_of_80x24():
    program = ("import os, sys; size = os.get_terminal_size(); "
               "sys.stdout.buffer.write(f'{size.columns}x{size.lines} {os.environ[\"TERM\"]} '.encode() "
               "+ 'é'.encode() * 2000); sys.stdout.flush()")
    session = bench.Session.start([sys.executable, "-c", program], "linux")
    try:
        count = session.read_to_end()
    finally:
        bench.os.close(session.master)
    assert bytes(session.received).startswith(b"80x24 linux ")
    assert count == len(b"80x24 linux ") + 4000


def test_without_sshd_the_bench_says_so_and_goes_on(subject, monkeypatch, capsys):
    from tests import ssh_helpers

    monkeypatch.setattr(ssh_helpers, "SSHD", None)
    assert bench.ssh_figures(subject.location, subject, moves=1, runs=1) == []
    assert "bytes over SSH not measured: sshd not installed" in capsys.readouterr().out
