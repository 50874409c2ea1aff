"""Text from the database never carries control characters to the terminal, nor markup."""

from __future__ import annotations

from db import models
from db.text import clean, printable
from tui import i18n
from tui.widgets import safe

HOSTILE = "[bold]Lò[/bold] \x1b[31m\x07\x9b"


def test_stored_text_is_cleaned_whatever_path_writes_it(empty_db):
    unit = models.Unit.create(code="U1", name=HOSTILE, name_folded="x", org_type="branch",
                              founded="2020-01-01")
    models.Unit.insert_many([dict(code="U2", name=HOSTILE, name_folded="y", org_type="branch",
                                  founded="2020-01-01")]).execute()
    for code in ("U1", "U2"):
        assert models.Unit.get(models.Unit.code == code).name == "[bold]Lò[/bold] [31m"
    assert unit.id


def test_decomposed_vietnamese_is_stored_composed():
    decomposed = "Hoa\u0300ng Thi\u0323 Mai"
    assert clean(decomposed) == "Hoàng Thị Mai"


def test_a_value_shown_in_a_widget_keeps_brackets_and_loses_control_characters():
    text = safe(HOSTILE)
    assert text.plain == "[bold]Lò[/bold] [31m"
    assert not text.spans  # nothing was read as markup


def test_messages_drop_control_characters_from_their_parameters():
    message = i18n.t("error.unknown_unit", text=HOSTILE)
    assert "\x1b" not in message and "\x07" not in message and "[bold]Lò[/bold]" in message
    assert printable("a\x1bb\nc") == "ab\nc"
