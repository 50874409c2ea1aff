"""A refused reorganisation (db.reorganise.ChangeError) as one sentence in the user's language,
for the command line and the screens alike."""

from __future__ import annotations

import datetime
import string

from db.reorganise import ChangeError
from tui import i18n
from tui.i18n import t


def _value(value) -> str:
    if isinstance(value, datetime.date):
        return i18n.date(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return i18n.number(value)
    return "" if value is None else str(value)


def change_error_text(exc: ChangeError) -> str:
    """The message of locale [reorganise_error] for the refusal, its fields filled in (dates as
    the user reads them). The values are plain text: show them with markup off."""
    key = f"reorganise_error.{exc.code}"
    if not i18n.has(key):
        return exc.code
    template = i18n.catalogue()[key][i18n.language()]
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return t(key, **{name: _value(exc.params.get(name)) for name in names})
