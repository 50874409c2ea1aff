"""The full-text index over people's folded names, IDs and phones (kept by triggers)."""

from db import search


def up(migrator, db):
    search.install_index(db)
