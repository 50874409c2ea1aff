"""Everything that is true without a screen: models, rules, queries, import and export.

peewee (and playhouse's migrations, through its PostgreSQL extensions) import psycopg,
PostgreSQL's driver, at their own import whenever it is installed: 0.12 s and 15 MiB at every
start of the program, for a driver that only a server database uses. It is kept out of their
import here (the package is imported before peewee: tui.cli and the tests
import `db` first) and handed to peewee when a postgresql:// database is opened
(db.connection.load_postgres_driver)."""

import sys

if "peewee" not in sys.modules and "psycopg" not in sys.modules:
    sys.modules["psycopg"] = None  # `import psycopg` raises ImportError inside peewee's import
    try:
        import peewee  # noqa: F401
        import playhouse.migrate  # noqa: F401  (psycopg only for hstore, which ketnap does not use)
    finally:
        del sys.modules["psycopg"]
