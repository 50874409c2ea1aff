"""The full-text index over units (their folded names and codes), for search everywhere."""

from db import search


def up(migrator, db):
    search.install_index(db)
