"""`ketnap unit change KIND ...` and the history in `ketnap units --all --json`, on a copy of the
demo with 01/06/2022 as today: the issue's merge of two Nà Phặc branches effective 01/01/2022,
each kind once, the refusals, the JSON shapes."""

from __future__ import annotations

import json

import pytest

from db import connection, models
from tui import cli, i18n

TODAY = "2022-06-01"
MERGE = ["unit", "change", "merge", "--from", "NS-NP-01", "--from", "NS-NP-02",
         "--into", "Chi bộ Tổ dân phố Nà Phặc – Bản Duồm", "--code", "NS-NP-40",
         "--decision", "45-QĐ/ĐU", "--decided", "20/12/2021", "--effective", "01/01/2022"]
DECISION = ["--decision", "60-QĐ/ĐU", "--decided", "2022-05-20"]


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    for name in ("KETNAP_DB", "KETNAP_LANG", "KETNAP_USER", "KETNAP_TODAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    yield
    i18n.set_language("vi")


@pytest.fixture
def ketnap(demo_db, capsys):
    """Run a command on the demo copy as demo_organiser (or `user`), in English, with 01/06/2022
    as today: (exit status, stdout, stderr)."""

    def run(*argv, user="demo_organiser", today=TODAY, lang="en"):
        status = cli.main(["--db", demo_db, "--user", user, "--today", today, "--lang", lang, *argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def as_json(result):
    status, out, _err = result
    return status, json.loads(out)


def codes(tree: list[dict]) -> set[str]:
    found = set()

    def walk(node):
        found.add(node["code"])
        for child in node["children"]:
            walk(child)

    for root in tree:
        walk(root)
    return found


def unit_doc(tree: list[dict], code: str) -> dict:
    todo = list(tree)
    while todo:
        node = todo.pop()
        if node["code"] == code:
            return node
        todo.extend(node["children"])
    raise KeyError(code)


def stats_2021(ketnap) -> dict:
    status, doc = as_json(ketnap("stats", "--unit", "NS-NP", "--year", "2021", "--as-of", "31/12/2021", "--json"))
    assert status == 0
    return doc


# --- the acceptance ----------------------------------------------------------------------

def test_merging_two_na_phac_branches_keeps_2021_and_changes_the_tree_from_2022(ketnap, monkeypatch):
    before = stats_2021(ketnap)
    status, out, err = ketnap(*MERGE)
    assert status == 0, err
    assert "Merge: recorded" in out and "45-QĐ/ĐU" in out and "effective 01/01/2022" in out
    assert "Chi bộ Tổ dân phố Nà Phặc [NS-NP-01]" in out and "[NS-NP-40]" in out
    assert "NS-NP-01 → NS-NP-40: people" in out and "NS-NP-02 → NS-NP-40" in out
    assert "In effect now" in out
    assert max(len(line) for line in out.splitlines()) <= 80

    after = stats_2021(ketnap)
    # stage_times reads the files' branch of today against the tree of 31/12/2021: see
    # test_stage_times_as_of_2021_are_those_before_the_merge below
    before.pop("stage_times"), after.pop("stage_times")
    assert after == before

    status, today_tree = as_json(ketnap("units", "--json"))
    assert status == 0 and "NS-NP-40" in codes(today_tree)
    assert not {"NS-NP-01", "NS-NP-02"} & codes(today_tree)
    status, old_tree = as_json(ketnap("units", "--json", today="2021-12-31"))
    assert {"NS-NP-01", "NS-NP-02"} <= codes(old_tree) and "NS-NP-40" not in codes(old_tree)

    status, doc = as_json(ketnap("audit", "--json", "--limit", "5"))
    entry = next(e for e in doc["entries"] if e["action"] == "unit_merge")
    assert entry["account"] == "demo_organiser" and entry["after"]["decision"] == "45-QĐ/ĐU"
    assert entry["after"]["sources"] == ["NS-NP-01", "NS-NP-02"] and entry["after"]["results"] == ["NS-NP-40"]
    monkeypatch.setenv("COLUMNS", "200")  # the audit table, unwrapped
    status, out, _ = ketnap("audit", "--limit", "5")
    assert status == 0 and "Units merged" in out and "demo_organiser" in out
    assert "45-QĐ/ĐU: NS-NP-01, NS-NP-02 → NS-NP-40" in out


def test_stage_times_as_of_2021_are_those_before_the_merge(ketnap):
    before = stats_2021(ketnap)["stage_times"]
    assert ketnap(*MERGE)[0] == 0
    assert stats_2021(ketnap)["stage_times"] == before


def test_merge_json_shape(ketnap):
    status, doc = as_json(ketnap(*MERGE, "--json"))
    assert status == 0
    assert {"change_id", "kind", "sources", "results", "moved", "applied"} <= doc.keys()
    assert doc["kind"] == "merge" and doc["applied"] is True and doc["ok"] is True
    assert doc["sources"] == ["NS-NP-01", "NS-NP-02"] and doc["results"] == ["NS-NP-40"]
    assert (doc["decision"], doc["decided"], doc["effective"]) == ("45-QĐ/ĐU", "2021-12-20", "2022-01-01")
    assert [(m["source"], m["target"]) for m in doc["moved"]] == [("NS-NP-01", "NS-NP-40"), ("NS-NP-02", "NS-NP-40")]
    for moved in doc["moved"]:
        assert set(moved) == {"source", "target", "members", "people", "files", "units"}
        assert moved["people"] >= moved["members"] > 0
    change = models.UnitChange.get_by_id(doc["change_id"])
    assert change.kind == "merge" and change.decision == "45-QĐ/ĐU"


def test_units_all_json_history(ketnap):
    assert ketnap(*MERGE)[0] == 0
    status, tree = as_json(ketnap("units", "--all", "--json"))
    assert status == 0
    merged = unit_doc(tree, "NS-NP-40")
    assert {"code", "name", "level", "org_type", "category", "founded", "ended", "children"} <= merged.keys()
    [entry] = merged["history"]
    assert {"kind", "decision", "decided", "effective", "role", "made_from", "became",
            "old_name", "new_name"} <= entry.keys()
    assert (entry["kind"], entry["role"], entry["made_from"], entry["became"]) == ("merge", "result",
                                                                               ["NS-NP-01", "NS-NP-02"], [])
    assert (entry["decision"], entry["decided"], entry["effective"]) == ("45-QĐ/ĐU", "2021-12-20", "2022-01-01")
    source = unit_doc(tree, "NS-NP-02")
    assert source["ended"] == "2022-01-01"
    assert [(h["kind"], h["role"], h["became"]) for h in source["history"]][-1] == ("merge", "source", ["NS-NP-40"])
    assert unit_doc(tree, "NS-NP-30")["history"][0]["made_from"] == ["NS-NP-21", "NS-NP-22"]  # the demo's own
    assert unit_doc(tree, "NS-NP-09")["history"] == []
    status, plain = as_json(ketnap("units", "--json"))
    assert "history" not in unit_doc(plain, "NS-NP-40")  # the tree of today stays as it was

    status, out, _ = ketnap("units", "--all")
    assert status == 0 and "← NS-NP-01, NS-NP-02" in out and "→ NS-NP-40" in out
    assert max(len(line) for line in out.splitlines()) <= 80


# --- each kind once ------------------------------------------------------------------------------

def test_found_then_transfer(ketnap):
    status, out, err = ketnap("unit", "change", "found", "--parent", "NS-NP", "--code", "NS-NP-41",
                              "--name", "Chi bộ Khu dân cư mới", "--category", "residential",
                              "--population", "350", *DECISION)
    assert status == 0, err
    assert "Found: recorded" in out and "Chi bộ Khu dân cư mới [NS-NP-41]" in out
    assert "under Đảng bộ thị trấn Nà Phặc [NS-NP]" in out
    unit = models.Unit.get(models.Unit.code == "NS-NP-41")
    assert (unit.category, unit.population, unit.org_type, unit.founded.isoformat()) == (
        "residential", 350, "branch", "2022-05-20")

    status, doc = as_json(ketnap("unit", "change", "transfer", "--unit", "NS-NP-41", "--parent", "NS-BV",
                                 "--decision", "61-QĐ/HU", "--decided", "2022-05-25", "--json"))
    assert status == 0 and (doc["kind"], doc["sources"], doc["results"]) == ("transfer", ["NS-NP-41"], ["NS-BV"])
    assert models.Unit.get(models.Unit.code == "NS-NP-41").parent.code == "NS-BV"


def test_rename_ahead_of_its_day(ketnap):
    status, out, err = ketnap("unit", "change", "rename", "--unit", "NS-NP-09", "--name", "Chi bộ Tổ dân phố 9",
                              *DECISION, "--effective", "01/07/2022")
    assert status == 0, err
    assert "Renamed as of 01/07/2022 (NS-NP-09):" in out
    assert "old name: Chi bộ Tổ dân phố Bản Chang" in out and "new name: Chi bộ Tổ dân phố 9" in out
    assert "Takes effect on 01/07/2022" in out
    assert models.Unit.get(models.Unit.code == "NS-NP-09").name == "Chi bộ Tổ dân phố Bản Chang"
    status, doc = as_json(ketnap("units", "--all", "--json"))
    [entry] = unit_doc(doc, "NS-NP-09")["history"]
    assert (entry["kind"], entry["old_name"], entry["new_name"]) == ("rename", "Chi bộ Tổ dân phố Bản Chang",
                                                                     "Chi bộ Tổ dân phố 9")
    # on its day the name follows, when a session starts
    status, doc = as_json(ketnap("units", "--json", today="2022-07-01"))
    assert unit_doc(doc, "NS-NP-09")["name"] == "Chi bộ Tổ dân phố 9"


def test_merge_into_an_existing_unit(ketnap):
    status, doc = as_json(ketnap("unit", "change", "merge", "--from", "NS-NP-10", "--from", "NS-NP-11",
                                 "--into-unit", "NS-NP-12", *DECISION, "--json"))
    assert status == 0 and doc["results"] == ["NS-NP-12"] and len(doc["moved"]) == 2
    assert models.Unit.get(models.Unit.code == "NS-NP-12").ended is None


def test_split_by_person_id_and_citizen_id_with_the_rest(ketnap):
    source = models.Unit.get(models.Unit.code == "NS-NP-05")
    P = models.Person
    people = list(P.select().where((P.branch == source.id) & P.citizen_id.is_null(False)).order_by(P.id).limit(2))
    status, out, err = ketnap("unit", "change", "split", "--from", "NS-NP-05",
                              "--into", "NS-NP-42:Chi bộ Tổ dân phố Nà Cháo 1",
                              "--into", "NS-NP-43:Chi bộ Tổ dân phố Nà Cháo 2",
                              "--assign", f"{people[0].citizen_id}=NS-NP-43", "--assign", f"{people[1].id}=NS-NP-43",
                              "--rest", "NS-NP-42", *DECISION)
    assert status == 0, err
    assert "Split: recorded" in out and "[NS-NP-42]" in out and "[NS-NP-43]" in out
    assert "NS-NP-05 → NS-NP-43: people 2" in out
    assert {P.get_by_id(p.id).branch.code for p in people} == {"NS-NP-43"}
    assert models.Unit.get(models.Unit.code == "NS-NP-05").ended.isoformat() == "2022-05-20"


def test_split_into_an_existing_unit_named_by_its_name(ketnap):
    status, doc = as_json(ketnap("unit", "change", "split", "--from", "NS-NP-06", "--into", "NS-NP-44:Chi bộ mới",
                                 "--into", "Phiêng Luông", "--rest", "phieng luong", *DECISION, "--json"))
    assert status == 0 and doc["results"] == ["NS-NP-44", "NS-NP-07"]
    assert any(m["target"] == "NS-NP-07" and m["people"] > 0 for m in doc["moved"])


def test_dissolve(ketnap):
    status, out, err = ketnap("unit", "change", "dissolve", "--unit", "NS-NP-03", "--receiver", "NS-NP-04",
                              *DECISION, lang="vi")
    assert status == 0, err
    assert "Giải thể: đã ghi" in out and "Kết thúc hoạt động từ ngày 20/05/2022" in out
    assert "Đơn vị tiếp nhận:" in out and "NS-NP-03 → NS-NP-04" in out
    assert max(len(line) for line in out.splitlines()) <= 80


# --- refusals ------------------------------------------------------------------------------------

def test_a_decision_signed_after_today_is_refused(ketnap):
    status, out, err = ketnap("unit", "change", "rename", "--unit", "NS-NP-09", "--name", "X",
                              "--decision", "1", "--decided", "02/06/2022")
    assert status == 1 and out == ""
    assert "The decision date 02/06/2022 is after today (01/06/2022). Nothing was saved." in err
    status, doc = as_json(ketnap("unit", "change", "rename", "--unit", "NS-NP-09", "--name", "X",
                                 "--decision", "1", "--decided", "02/06/2022", "--json"))
    assert status == 1 and doc["ok"] is False and doc["error"]["code"] == "decided_in_future"
    assert not models.UnitChange.select().where(models.UnitChange.decision == "1").exists()


def test_an_unknown_unit_is_refused(ketnap):
    status, doc = as_json(ketnap(*[a if a != "NS-NP-02" else "NS-ZZ-99" for a in MERGE], "--json"))
    assert status == 1 and doc["error"]["code"] == "unknown_unit" and "NS-ZZ-99" in doc["error"]["message"]
    assert not models.Unit.select().where(models.Unit.code == "NS-NP-40").exists()


def test_a_secretary_may_not_reorganise(ketnap):
    status, out, err = ketnap(*MERGE, user="demo_secretary")
    assert status == 1 and "not allowed" in err
    status, doc = as_json(ketnap(*MERGE, "--json", user="demo_secretary"))
    assert status == 1 and doc["error"]["code"] == "forbidden"
    assert models.Unit.get(models.Unit.code == "NS-NP-01").ended is None


def test_refusals_of_the_database_layer_and_of_usage(ketnap):
    status, doc = as_json(ketnap("unit", "change", "found", "--parent", "NS-NP", "--code", "NS-NP-01",
                                 "--name", "X", *DECISION, "--json"))
    assert status == 1 and doc["error"]["code"] == "code_taken"
    status, out, err = ketnap("unit", "change", "split", "--from", "NS-NP-06", "--into", "NS-NP-44:A",
                              "--into", "NS-NP-45:B", *DECISION)
    assert status == 1 and "are not assigned to a unit" in err
    status, out, err = ketnap("unit", "change", "split", "--from", "NS-NP-06", "--into", "NS-NP-44:A",
                              "--into", "NS-NP-45:B", "--rest", "NS-NP-46", *DECISION)
    assert status == 1 and "“NS-NP-46” is not one of the resulting units (NS-NP-44, NS-NP-45)" in err
    status, out, err = ketnap("unit", "change", "split", "--from", "NS-NP-06", "--into", "NS-NP-44:A",
                              "--into", "NS-NP-45:B", "--assign", "nobody=NS-NP-44", "--rest", "NS-NP-45", *DECISION)
    assert status == 1 and "“nobody” is neither a person's id nor a citizen ID" in err
    # wrong usage: exit status 2
    assert ketnap(*[a for a in MERGE if a not in ("--code", "NS-NP-40")])[0] == 2
    assert ketnap("unit", "change", "merge", "--from", "NS-NP-01", "--from", "NS-NP-02", "--into-unit", "NS-NP-03",
                  "--code", "X", *DECISION)[0] == 2
    assert ketnap("unit", "change", "split", "--from", "NS-NP-06", "--into", "A:a", "--into", "B:b",
                  "--assign", "12", *DECISION)[0] == 2
    assert ketnap("unit", "change", "rename", "--unit", "NS-NP-09", "--name", "X", "--decided", "2022-05-20")[0] == 2
    assert not models.UnitChange.select().where(models.UnitChange.decided >= connection.parse_date("2022-01-01")).exists()


def test_a_split_moves_each_open_file_once_to_its_persons_unit(ketnap):
    C, M = models.CaseFile, models.CaseMove
    source = models.Unit.get(models.Unit.code == "NS-NP-08")
    case = C.select().where((C.branch == source.id) & (C.status == "open") & (C.stage != "official")).first()
    status, doc = as_json(ketnap("unit", "change", "split", "--from", "NS-NP-08", "--into", "NS-NP-50:A",
                                 "--into", "NS-NP-51:B", "--assign", f"{case.person_id}=NS-NP-51",
                                 "--rest", "NS-NP-50", *DECISION, "--json"))
    assert status == 0
    moves = [m.to_branch.code for m in M.select().where((M.case == case.id) & (M.change == doc["change_id"]))]
    assert moves == ["NS-NP-51"]
    assert len(doc["moved"]) == 2
