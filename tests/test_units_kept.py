"""The unit links kept between calls of db.units.subtree_ids (read again when the tree changes),
and the open files of a page found by person (db.people._open_cases)."""

from __future__ import annotations

import datetime

from db import models, units
from db.people import people_page
from db.units import subtree_ids
from tests.test_db_read import TODAY, build_world, make_person, make_unit


def test_a_unit_added_or_moved_shows_in_the_next_subtree(admin):
    world = build_world()
    before = subtree_ids(admin, world.commune.id, TODAY)
    assert units._LAYOUTS  # kept for the next call
    added = make_unit("TQ03", "Chi bộ thôn Nà Mố", "branch", world.commune, category="village")
    assert sorted(subtree_ids(admin, world.commune.id, TODAY)) == sorted(before + [added.id])
    # moved to the district: no longer below the commune
    link = models.UnitLink.get(models.UnitLink.unit == added.id)
    link.parent = world.district.id
    link.save()
    assert sorted(subtree_ids(admin, world.commune.id, TODAY)) == sorted(before)
    assert added.id in subtree_ids(admin, world.district.id, TODAY)


def test_another_day_is_its_own_subtree(admin):
    world = build_world()
    today = sorted(subtree_ids(admin, world.commune.id, TODAY))
    earlier = sorted(subtree_ids(admin, world.commune.id, datetime.date(2019, 6, 1)))
    assert today != earlier  # TQ02 was still there in 2019
    assert sorted(subtree_ids(admin, world.commune.id, TODAY)) == today


def test_a_few_days_are_kept_the_oldest_let_go_first(admin):
    """A province's layout is megabytes: the last few days asked for are kept, not every one."""
    world = build_world()
    units._LAYOUTS.clear()
    days = [TODAY - datetime.timedelta(days=n) for n in range(units.LAYOUTS_KEPT + 2)]
    for day in days:
        subtree_ids(admin, world.commune.id, day)
    kept_days = sorted(key[2] for key in units._LAYOUTS)
    assert kept_days == sorted(days[-units.LAYOUTS_KEPT:])
    # a day kept answers the same as one read again
    assert sorted(subtree_ids(admin, world.commune.id, days[-1])) == sorted(
        subtree_ids(admin, world.commune.id, days[0]))


def test_a_page_shows_open_files_only(admin):
    world = build_world()
    person = make_person("Hoàng Văn Mố", world.village)
    closed = models.CaseFile.create(person=person, branch=world.village, stage="identified",
                                    status="closed", opened_on=TODAY)
    (row,) = [r for r in people_page(admin, world.village.id, TODAY, limit=50).rows if r.id == person.id]
    assert row.case_id is None
    opened = models.CaseFile.create(person=person, branch=world.village, stage="dossier",
                                    status="open", opened_on=TODAY)
    (row,) = [r for r in people_page(admin, world.village.id, TODAY, limit=50).rows if r.id == person.id]
    assert (row.case_id, row.stage) == (opened.id, "dossier") and closed.id != opened.id


def _walked(actor, day):
    return {node.id: node for root in units.unit_tree(actor, day, include_ended=True) for node in root.walk()}


def test_a_unit_made_alone_is_the_node_the_whole_tree_makes(demo_admin):
    """get_unit and a unit found by its code make one node (a province has tens of thousands):
    the same node, the same name and parent, as walking every unit, and refused alike outside an
    account's scope."""
    from db.access import Actor

    day = datetime.date(2021, 9, 30)
    every = _walked(demo_admin, day)
    alive = {n.id: n for root in units.unit_tree(demo_admin, day) for n in root.walk()}
    for unit_id, node in alive.items():
        made = units.get_unit(demo_admin, unit_id, day, include_ended=False)
        assert made == node and [c.id for c in made.children] == [c.id for c in node.children]
    assert all(units.get_unit(demo_admin, u, day, include_ended=False) is None for u in set(every) - set(alive))
    for unit_id, node in every.items():
        assert units.get_unit(demo_admin, unit_id, day) == node
        assert units.find_unit(demo_admin, node.code, day) == node
        assert [c.id for c in units.get_unit(demo_admin, unit_id, day).children] == [c.id for c in node.children]
    commune = next(n for n in every.values() if n.level == "commune" and n.child_count)
    local = Actor(account_id=None, name="xa", role="commune", unit_id=commune.id)
    mine = _walked(local, day)
    assert commune.id in mine and len(mine) < len(every)
    for unit_id, node in every.items():
        assert (units.get_unit(local, unit_id, day) is not None) == (unit_id in mine)


def test_names_are_read_for_the_units_shown(demo_admin, monkeypatch):
    """The tree reads a unit's name when its node is made; a caller walking the whole tree ends
    with one read of every name, and sees them all."""
    monkeypatch.setattr(units, "DETAILS_ASKED_MAX", 2)
    units._LAYOUTS.clear()
    day = datetime.date(2021, 9, 30)
    roots = units.unit_tree(demo_admin, day)
    kept = units._layout(day, False)[3]
    assert 0 < len(kept["details"]) < len(units._layout(day, False)[0])
    walked = [n for root in roots for n in root.walk()]
    assert all(n.name and n.code for n in walked)
    assert {n.id for n in walked} == units._layout(day, False)[2]  # every unit alive that day


def test_the_units_walked_without_nodes_are_the_trees(demo_admin):
    """unit_rows (the palette's units, find_unit's names) gives every node of unit_tree, in its
    order, with its name, parent and end, without making the nodes."""
    day = datetime.date(2021, 9, 30)
    for ended in (False, True):
        walked = [(n.id, n.code, n.name, n.ended) for root in units.unit_tree(demo_admin, day, include_ended=ended)
                  for n in root.walk()]
        rows = units.unit_rows(demo_admin, day, include_ended=ended)
        assert [(r[0], r[1], r[2], r[4]) for r in rows] == walked
        parent_of = {n.id: p.id for root in units.unit_tree(demo_admin, day, include_ended=ended)
                     for p in root.walk() for n in p.children}
        assert {r[0]: r[3] for r in rows if r[3] is not None} == parent_of


def test_the_way_to_a_unit_is_the_trees(demo_admin):
    """unit_chain (the tree's jump to a unit, from the search or the palette) gives the ids from
    the top of the tree down to the unit, as walking the nodes does, without making them."""
    from db.access import Actor

    day = datetime.date(2021, 9, 30)

    def ways(actor, ended):
        found = {}

        def walk(node, above):
            found[node.id] = above + [node.id]
            for child in node.children:
                walk(child, above + [node.id])

        for root in units.unit_tree(actor, day, include_ended=ended):
            walk(root, [])
        return found

    every = {n.id for root in units.unit_tree(demo_admin, day, include_ended=True) for n in root.walk()}
    commune = next(n for root in units.unit_tree(demo_admin, day) for n in root.walk()
                   if n.level == "commune" and n.child_count)
    local = Actor(account_id=None, name="xa", role="commune", unit_id=commune.id)
    for actor in (demo_admin, local):
        for ended in (False, True):
            expected = ways(actor, ended)
            for unit_id in every:
                assert units.unit_chain(actor, unit_id, day, include_ended=ended) == expected.get(unit_id)
