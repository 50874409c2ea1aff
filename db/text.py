"""Text as users type it and as the database keeps it.

- `clean`: what is stored: NFC, no control characters (ESC, BEL, C1...), single spaces.
- `fold`: the searchable form: lower-case, no diacritics, đ -> d.
- `name_sort_key`: Vietnamese dictionary order by given name (the last word), then the
  family name, then the middle names.
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls except TAB/LF, DEL, and the C1 block. Removed from everything stored or shown.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")


def printable(value: str) -> str:
    """The text without control characters (for showing stored text on a terminal)."""
    return _CONTROL.sub("", value)


def clean(value: str | None, *, multiline: bool = False) -> str | None:
    """NFC-normalise, drop control characters, and (unless multiline) fold runs of spaces."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value))
    text = _CONTROL.sub("", text)
    if not multiline:
        text = _SPACES.sub(" ", text).strip()
    return text


def fold(value: str | None) -> str:
    """Lower-case, diacritics removed, đ/Đ -> d, spaces folded: "Đặng Thị Hoạt" -> "dang thi hoat"."""
    if not value:
        return ""
    text = unicodedata.normalize("NFD", clean(value) or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    text = text.replace("đ", "d").replace("Đ", "D")
    return _SPACES.sub(" ", text.lower()).strip()


# Vietnamese alphabet, Latin extras (f j w z) in their Latin places.
_ALPHABET = [
    "a", "ă", "â", "b", "c", "d", "đ", "e", "ê", "f", "g", "h", "i", "j", "k", "l", "m",
    "n", "o", "ô", "ơ", "p", "q", "r", "s", "t", "u", "ư", "v", "w", "x", "y", "z",
]
_LETTER_CODE = {letter: chr(0x41 + i) for i, letter in enumerate(_ALPHABET)}
# Tones in dictionary order: ngang, huyền, hỏi, ngã, sắc, nặng.
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
# Combining marks that make a different letter (not a tone).
_LETTER_MARKS = {("a", "\u0306"): "ă", ("a", "\u0302"): "â", ("e", "\u0302"): "ê",
                 ("o", "\u0302"): "ô", ("o", "\u031b"): "ơ", ("u", "\u031b"): "ư"}


def _word_key(word: str) -> str:
    letters: list[str] = []
    tone = 0
    for ch in unicodedata.normalize("NFD", word.lower()):
        if ch in _TONES:
            tone = _TONES[ch]
        elif unicodedata.category(ch) == "Mn":
            if letters and (letters[-1], ch) in _LETTER_MARKS:
                letters[-1] = _LETTER_MARKS[(letters[-1], ch)]
        elif ch == "đ":
            letters.append("đ")
        else:
            letters.append(ch)
    coded = "".join(_LETTER_CODE.get(letter, letter if letter.isdigit() else "~") for letter in letters)
    return f"{coded}{tone}"


def name_sort_key(full_name: str | None) -> str:
    """The stored key that sorts names as a Vietnamese list does.

    Words compare letter by letter (a < ă < â < b ... đ after d), the tone only breaking ties
    between words with the same letters; the given name first, then the family name, then the
    middle names. A space separates the words and sorts before every letter.
    """
    words = (clean(full_name) or "").split(" ")
    words = [w for w in words if w]
    if not words:
        return ""
    ordered = [words[-1]] + words[:-1] if len(words) > 1 else words
    return " ".join(_word_key(w) for w in ordered)
