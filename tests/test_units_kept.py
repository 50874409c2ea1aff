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
