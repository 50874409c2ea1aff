"""The rules of the code base that keep it safe to change: layers, schema, translations."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from playhouse.migrations import Runner

from db import connection
from tui import i18n

ROOT = Path(__file__).resolve().parent.parent


def test_import_layers_contract_holds():
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_db_does_not_import_textual_or_rich():
    code = ("import sys, db.models, db.connection, db.units, db.people, db.cases, db.search, "
            "db.access, db.calendar, db.text; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]; "
            "print(','.join(bad)); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"db imported: {result.stdout}{result.stderr}"


def test_migrated_schema_matches_models(empty_db):
    database = connection.make_database(empty_db)
    diff = connection.schema_differences(database)
    assert not diff, f"models and migrations disagree: {diff}"


def test_migrations_are_idempotent_and_recorded(tmp_path):
    path = str(tmp_path / "x.sqlite3")
    connection.open_database(path)
    applied = [m.name for m in Runner(connection.make_database(path), str(connection.MIGRATIONS)).status()
               if m.applied]
    assert applied and applied == sorted(applied)
    connection.close_database()
    connection.open_database(path)  # a second open applies nothing
    assert connection.pending_migrations(connection.make_database(path)) == []
    connection.close_database()


def test_a_sqlite_session_does_not_load_the_postgresql_driver(tmp_path):
    """psycopg costs 0.12 s and 15 MiB at import: the program on a SQLite file (what `ketnap`
    runs, the app included) starts without it, and a postgresql:// database hands it to peewee
    when opened."""
    code = ("import sys, tui.cli, tui.app; from db import connection; "
            f"connection.open_database({str(tmp_path / 'x.sqlite3')!r}); "
            "loaded = 'psycopg' in sys.modules; "
            "connection.load_postgres_driver(); import peewee; "
            "print(loaded, peewee.psycopg is not None, peewee.Psycopg3Adapter.txn_idle is not None)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.split() == ["False", "True", "True"], result.stdout + result.stderr


def test_new_database_is_private(tmp_path):
    path = tmp_path / "private.sqlite3"
    connection.open_database(str(path))
    connection.close_database()
    assert path.stat().st_mode & 0o077 == 0


def test_every_message_has_vietnamese_and_english():
    missing = [key for key, entry in i18n.catalogue().items()
               if set(entry) != set(i18n.LANGUAGES) or not all(entry[lang].strip() for lang in i18n.LANGUAGES)]
    assert not missing, f"messages lacking a language: {missing}"


def test_a_changed_locale_file_is_read_again_not_taken_from_the_kept_copy(tmp_path, monkeypatch):
    locale = tmp_path / "locale"
    locale.mkdir()
    (locale / "a.toml").write_text('[greet]\nvi = "Chào"\nen = "Hello"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    i18n.catalogue.cache_clear()
    try:
        assert i18n.catalogue()["greet"]["en"] == "Hello"
        assert list((tmp_path / "cache" / "ketnap").glob("messages-*.json"))  # kept for the next start
        i18n.catalogue.cache_clear()
        assert i18n.catalogue()["greet"]["en"] == "Hello"  # from the kept copy
        (locale / "a.toml").write_text('[greet]\nvi = "Xin chào"\nen = "Good day"\n', encoding="utf-8")
        i18n.catalogue.cache_clear()
        assert i18n.catalogue()["greet"] == {"vi": "Xin chào", "en": "Good day"}
        for n in range(5):  # a few copies kept, not every one ever made
            (locale / "a.toml").write_text(f'[greet]\nvi = "{n}"\nen = "{n}"\n', encoding="utf-8")
            i18n.catalogue.cache_clear()
            assert i18n.catalogue()["greet"]["en"] == str(n)
        assert len(list((tmp_path / "cache" / "ketnap").glob("messages-*"))) <= 4
    finally:
        monkeypatch.undo()
        i18n.catalogue.cache_clear()


def test_messages_take_the_same_placeholders_in_both_languages():
    import string

    def fields(text):
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    odd = [key for key, entry in i18n.catalogue().items() if fields(entry["vi"]) != fields(entry["en"])]
    assert not odd, f"placeholders differ between vi and en: {odd}"


def _message_keys_used_in_code() -> set[str]:
    keys = set()
    for path in list((ROOT / "tui").rglob("*.py")) + list((ROOT / "screens").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "t"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                keys.add(node.args[0].value)
    return keys


def test_every_message_used_in_code_is_translated():
    used = _message_keys_used_in_code()
    assert used, "no translated strings found: the scan is broken"
    unknown = sorted(k for k in used if not i18n.has(k))
    assert not unknown, f"keys used in code but missing from tui/locale: {unknown}"


def test_number_and_percent_follow_the_language():
    try:
        i18n.set_language("vi")
        assert (i18n.number(3267), i18n.percent(10.5)) == ("3.267", "10,5%")
        i18n.set_language("en")
        assert (i18n.number(3267), i18n.percent(10.5)) == ("3,267", "10.5%")
    finally:
        i18n.set_language("vi")
