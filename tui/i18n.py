"""The translation layer: every user-facing string, in Vietnamese (default) and English.

Messages live in tui/locale/*.toml, one table per key with a `vi` and an `en` entry:

    [people.count]
    vi = "{n} người"
    en = "{n} people"

`t(key, **params)` formats the message of the current language; numbers and dates are written
the way each language writes them (3.267 and 10,5% in Vietnamese; 3,267 and 10.5% in English).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import tomllib
from functools import lru_cache
from pathlib import Path

from db.text import printable

LANGUAGES = ("vi", "en")
LOCALE_DIR = Path(__file__).with_name("locale")

_current = "vi"


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """Every message, key -> {language: text}, from all the locale files.

    Reading the TOML takes a tenth of a second, at every start of the program and of every
    command; the result is kept as JSON in the user's cache folder, under a name made from the
    files' names, sizes and times, so that a changed file is read again."""
    paths = sorted(LOCALE_DIR.glob("*.toml"))
    stamp = hashlib.sha256(repr([(p.name, p.stat().st_size, p.stat().st_mtime_ns)
                                 for p in paths]).encode()).hexdigest()[:16]
    kept = _cache_dir() / f"messages-{stamp}.json"
    try:
        return json.loads(kept.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    messages: dict[str, dict[str, str]] = {}
    for path in paths:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        _flatten(data, "", messages, path.name)
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        # a few kept (two installations of different versions may share the folder), no more
        older = sorted(kept.parent.glob("messages-*.json"), key=lambda p: p.stat().st_mtime)
        for old in older[:-3]:
            old.unlink(missing_ok=True)
        partial = kept.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(messages, ensure_ascii=False), encoding="utf-8")
        partial.replace(kept)
    except OSError:
        pass  # a read-only home: read the files each time
    return messages


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ketnap"


def _flatten(node: dict, prefix: str, out: dict, source: str) -> None:
    if any(lang in node for lang in LANGUAGES) and all(isinstance(v, str) for v in node.values()):
        if prefix in out:
            raise ValueError(f"message {prefix!r} defined twice ({source})")
        out[prefix] = dict(node)
        return
    for key, value in node.items():
        if not isinstance(value, dict):
            raise ValueError(f"{source}: {prefix}.{key} must be a table with vi and en")
        _flatten(value, f"{prefix}.{key}" if prefix else key, out, source)


def set_language(lang: str) -> None:
    global _current
    if lang not in LANGUAGES:
        raise ValueError(lang)
    _current = lang


def language() -> str:
    return _current


def t(key: str, **params) -> str:
    """The message `key` in the current language, formatted with `params` (control
    characters removed from string parameters)."""
    entry = catalogue().get(key)
    if entry is None:
        raise KeyError(f"untranslated message {key!r}")
    text = entry[_current]
    if not params:
        return text
    # parameters are often text from the database: no control character reaches the terminal
    return text.format(**{k: printable(v) if isinstance(v, str) else v for k, v in params.items()})


def has(key: str) -> bool:
    return key in catalogue()


def code_name(group: str, code: str | None) -> str:
    """The name of a code of domain.md (a stage, an org type, ...), or '' for None."""
    if code is None:
        return ""
    key = f"{group}.{code}"
    return t(key) if has(key) else code


def number(value: int | float | None, decimals: int = 0) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    if _current == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def percent(value: float | None) -> str:
    return "–" if value is None else number(value, 1) + "%"


def date(value: datetime.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""
