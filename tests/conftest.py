"""Shared fixtures: real small databases in tmp_path, and the demo loaded once per session."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from db import connection
from db.access import ensure_admin


@pytest.fixture
def empty_db(tmp_path):
    """A fresh, migrated database file, bound to the models; yields its path."""
    path = tmp_path / "test.sqlite3"
    connection.open_database(str(path))
    yield str(path)
    connection.close_database()


@pytest.fixture
def admin(empty_db):
    actor, _ = ensure_admin("tester")
    return actor


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """The demo data set loaded once; tests get a copy (see `demo_db`)."""
    from db import demo

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    connection.open_database(str(path))
    demo.load_demo(login="tester")
    connection.close_database()
    # fold the WAL into the main file so that a plain copy is complete
    con = sqlite3.connect(str(path))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


@pytest.fixture
def demo_db(demo_template, tmp_path):
    """A private copy of the demo database, opened and bound; yields its path."""
    path = tmp_path / "demo.sqlite3"
    shutil.copy(demo_template, path)
    connection.open_database(str(path))
    yield str(path)
    connection.close_database()


@pytest.fixture
def demo_file(demo_template, tmp_path):
    """A private copy of the demo database, not opened here (for a program run in a terminal)."""
    path = tmp_path / "demo.sqlite3"
    shutil.copy(demo_template, path)
    return str(path)


@pytest.fixture
def demo_admin(demo_db):
    from db.access import account_actor

    return account_actor("tester")


@pytest.fixture
def make_demo_app(demo_db):
    """An application on the demo copy, as one of its accounts, on the demo's today."""
    import datetime

    from db.access import account_actor
    from tui import i18n
    from tui.app import KetnapApp
    from tui.context import AppContext

    def make(login: str = "demo_organiser", lang: str = "vi") -> KetnapApp:
        return KetnapApp(AppContext(location=demo_db, actor=account_actor(login),
                                    today=datetime.date(2021, 9, 30), lang=lang), theme="textual-dark")

    yield make
    i18n.set_language("vi")
