"""Shared fixtures: real small databases in tmp_path, and the demo loaded once per session.

With `--pg URL` (or KETNAP_TEST_PG=URL) the database fixtures make a fresh database on that
PostgreSQL server instead of a SQLite file (`CREATE DATABASE`, dropped after the test), and the
tests of screens and terminals, which do not depend on the engine, are skipped.

A test that compares the two engines (the `postgres` fixture) finds its server there too, or in
KETNAP_PG_SERVER, which leaves the rest of the run on SQLite (.ci/with-postgres sets it).
"""

from __future__ import annotations

import inspect
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest

from db import connection
from db.access import ensure_admin

# Tests of what a terminal shows (these files, and every screen test: the async ones, driven by
# Textual's Pilot) are the same on either engine: run on SQLite only.
SQLITE_ONLY = {
    "test_bench_terminal.py", "test_e2e_tmux.py", "test_snapshots.py", "test_ssh.py",
    "test_terminal_modes.py", "test_terminal_tmux.py", "test_wheelhouse.py",
    "test_postgres.py",  # compares both engines itself: once, in the SQLite run
}


def pytest_addoption(parser):
    parser.addoption("--pg", metavar="URL", default=None,
                     help="run the database tests on this PostgreSQL server (default: KETNAP_TEST_PG)")


def pg_server_url(config) -> str | None:
    return config.getoption("--pg") or os.environ.get("KETNAP_TEST_PG") or None


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): about the SQLite file itself, skipped with --pg")


def pytest_collection_modifyitems(config, items):
    if not pg_server_url(config):
        return
    skip = pytest.mark.skip(reason="a screen or terminal test: run on SQLite only")
    for item in items:
        if Path(str(item.fspath)).name in SQLITE_ONLY or inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.add_marker(skip)
        elif (marker := item.get_closest_marker("sqlite_only")) is not None:
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {marker.args[0]}"))


class PgServer:
    """A PostgreSQL server that makes and drops the tests' databases."""

    def __init__(self, url: str):
        self.url = url
        self.made: list[str] = []

    def _admin(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def location(self, name: str) -> str:
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"

    def create(self, template: str | None = None) -> str:
        """A new database (a copy of `template` when given); returns its URL."""
        name = f"ketnap_test_{uuid.uuid4().hex[:12]}"
        with self._admin() as con:
            con.execute(f'CREATE DATABASE "{name}" '
                        + (f'TEMPLATE "{template}"' if template else connection.PG_CREATE_OPTIONS))
        self.made.append(name)
        return self.location(name)

    def drop(self, location: str) -> None:
        name = location.rpartition("/")[2]
        with self._admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)


@pytest.fixture(scope="session")
def pg_server(request):
    """The PostgreSQL server of --pg / KETNAP_TEST_PG, or None (SQLite)."""
    url = pg_server_url(request.config)
    if not url:
        yield None
        return
    server = PgServer(url)
    yield server
    for name in list(server.made):
        server.drop(server.location(name))


@pytest.fixture(scope="session")
def postgres_server(pg_server):
    if pg_server is not None:
        yield pg_server
        return
    url = os.environ.get("KETNAP_PG_SERVER")
    server = PgServer(url) if url else None
    yield server
    for name in list(server.made) if server else []:
        server.drop(server.location(name))


@pytest.fixture
def postgres(postgres_server):
    """For a test that needs PostgreSQL whatever the engine of the run: skipped without a
    server, except in CI (KETNAP_CI=1), where a missing server is a failure."""
    if postgres_server is None:
        message = "no PostgreSQL server: give --pg URL, KETNAP_TEST_PG or KETNAP_PG_SERVER (.ci/with-postgres)"
        if os.environ.get("KETNAP_CI"):
            pytest.fail(message)
        pytest.skip(message)
    return postgres_server


@pytest.fixture
def empty_db(tmp_path, pg_server):
    """A fresh, migrated database (a file, or a database on the --pg server), bound to the
    models; yields its path or URL."""
    location = pg_server.create() if pg_server else str(tmp_path / "test.sqlite3")
    connection.open_database(location)
    yield location
    connection.close_database()
    if pg_server:
        pg_server.drop(location)


@pytest.fixture
def admin(empty_db):
    actor, _ = ensure_admin("tester")
    return actor


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, pg_server):
    """The demo data set loaded once; tests get a copy (see `demo_db`)."""
    from db import demo

    if pg_server:
        location = pg_server.create()
        connection.open_database(location)
        demo.load_demo(login="tester")
        connection.close_database()
        return location.rpartition("/")[2]  # copied as a template
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    connection.open_database(str(path))
    demo.load_demo(login="tester")
    connection.close_database()
    # fold the WAL into the main file so that a plain copy is complete
    con = sqlite3.connect(str(path))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def _demo_copy(demo_template, tmp_path, pg_server) -> str:
    if pg_server:
        return pg_server.create(template=demo_template)
    path = tmp_path / "demo.sqlite3"
    shutil.copy(demo_template, path)
    return str(path)


@pytest.fixture
def demo_db(demo_template, tmp_path, pg_server):
    """A private copy of the demo database, opened and bound; yields its path or URL."""
    location = _demo_copy(demo_template, tmp_path, pg_server)
    connection.open_database(location)
    yield location
    connection.close_database()
    if pg_server:
        pg_server.drop(location)


@pytest.fixture
def demo_file(demo_template, tmp_path, pg_server):
    """A private copy of the demo database, not opened here (for a program run in a terminal)."""
    location = _demo_copy(demo_template, tmp_path, pg_server)
    yield location
    if pg_server:
        pg_server.drop(location)


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
