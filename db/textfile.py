"""The text files people really have: CSV/TSV bytes in any of their Vietnamese encodings.

Committees keep candidates and members in spreadsheets, some typed years ago in the old font
encodings. `read_rows` turns the bytes of such a file into rows of clean Unicode text:

- `decode(data)` finds the encoding, in this order: a byte-order mark (UTF-8; UTF-16 LE/BE, which
  is what Excel's "Unicode text" writes, tab-separated); valid UTF-8 (pure ASCII counts as UTF-8);
  else the file is single-byte and is decoded as each of Windows-1258, TCVN3 (ABC, the `.VnTime`
  fonts) and VNI (the `VNI-Times` fonts), and the decoding that reads most like Vietnamese wins
  (see `_score`). The text is NFC-normalised.
- `read_rows(data)` decodes, sniffs the delimiter among `,` `;` TAB `|`, parses with the csv
  module (quotes, embedded newlines) and cleans every cell with `db.text.clean`.
- `encode_tcvn3` / `encode_vni` write those encodings (for tests, and for anyone who must hand a
  file back to an old machine).

A file that is not text (an XLSX/zip given by mistake, binary with NUL bytes) raises
`TextFileError` with the code `not_text`, before any row is returned.

Standard library only; no Textual or Rich (the `db` package must not import them).
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from dataclasses import dataclass, field

from db.text import clean

__all__ = [
    "Decoded", "Detection", "Table", "TextFileError", "ENCODING_NAMES", "DELIMITERS",
    "decode", "read_rows", "encode_tcvn3", "encode_vni", "decode_tcvn3", "decode_vni",
]

ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (BOM)",
    "utf-16": "UTF-16 (Unicode text)",
    "cp1258": "Windows-1258",
    "tcvn3": "TCVN3 (ABC, .VnTime)",
    "vni": "VNI (VNI-Times)",
}
DELIMITERS = (",", ";", "\t", "|")


class TextFileError(ValueError):
    """A file that cannot be read as text. `code`: `not_text` or `bad_csv`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- TCVN3 ------------------------------------------------------------------------------------
# TCVN 5712:1993 (VN1, of which TCVN3/ABC -- the .VnTime fonts -- is the VN3 subset: the same
# codes, without the capital letters with tones). Bytes 0x80-0xFF, sixteen to a line; 0xB0-0xB4
# are the combining tone marks. The VN1 capitals make every Vietnamese letter round-trip; a file
# typed in the .VnTime fonts never holds them (its capitals with tones were lower-case codes shown
# in a .VnTimeH font, and so read back as lower case).
_TCVN3_HIGH = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"  # 0x80
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"  # 0x90
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"  # 0xA0
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"  # 0xB0
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"  # 0xC0
    "éẹềểễếệìỉỄẾỒĩíịò"  # 0xD0
    "Ổỏõóọồổỗốộờởỡớợù"  # 0xE0
    "ỖủũúụừửữứựỳỷỹýỵỐ"  # 0xF0
)
# VN1 also puts twelve capitals in C0 positions no text file otherwise uses.
_TCVN3_LOW = {0x01: "Ú", 0x02: "Ụ", 0x04: "Ừ", 0x05: "Ử", 0x06: "Ữ", 0x11: "Ứ", 0x12: "Ự",
              0x13: "Ỳ", 0x14: "Ỷ", 0x15: "Ỹ", 0x16: "Ý", 0x17: "Ỵ"}
_TCVN3_TABLE = "".join(_TCVN3_LOW.get(b, chr(b)) for b in range(0x80)) + _TCVN3_HIGH
_TCVN3_ENCODE = {ch: bytes([b]) for b, ch in enumerate(_TCVN3_TABLE)
                 if b >= 0x80 or b in _TCVN3_LOW}

# --- VNI --------------------------------------------------------------------------------------
# VNI (VNI-Win, the VNI-Times fonts; VNI Software). Windows-1252 bytes in which a letter with a
# diacritic is mostly two bytes: the ASCII base letter, then a diacritic byte (lower- and
# upper-case forms of each mark); đ, ơ, ư, i with a tone and ỵ are single bytes.
_TONES = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng
_VNI_TONE = ("øùûõï", "ØÙÛÕÏ")  # after a e o u y ơ ư
_VNI_CIRCUMFLEX = ("âàáåãä", "ÂÀÁÅÃÄ")  # â ê ô: none, then the five tones
_VNI_BREVE = ("êèéúüë", "ÊÈÉÚÜË")  # ă: none, then the five tones
_VNI_SINGLE = {"đ": "ñ", "Đ": "Ñ", "ơ": "ô", "Ơ": "Ô", "ư": "ö", "Ư": "Ö", "ỵ": "î", "Ỵ": "Î",
               "ì": "ì", "Ì": "Ì", "í": "í", "Í": "Í", "ỉ": "æ", "Ỉ": "Æ", "ĩ": "ó", "Ĩ": "Ó",
               "ị": "ò", "Ị": "Ò"}


def _vni_tables() -> tuple[dict[str, str], dict[str, str]]:
    """(Unicode letter -> VNI characters, VNI characters -> Unicode letter)."""
    encode: dict[str, str] = {}

    def nfc(s: str) -> str:
        return unicodedata.normalize("NFC", s)

    for case, (tone_marks, circ, breve) in enumerate(zip(_VNI_TONE, _VNI_CIRCUMFLEX, _VNI_BREVE)):
        up = (lambda s: s.upper()) if case else (lambda s: s)
        for base in "aeouy":
            for tone, mark in zip(_TONES, tone_marks):
                encode.setdefault(nfc(up(base) + tone), up(base) + mark)
        for base, vni_base in (("ơ", "ô"), ("ư", "ö")):
            for tone, mark in zip(_TONES, tone_marks):
                encode[nfc(up(base) + tone)] = up(vni_base) + mark
        for base in "aeo":
            for tone, mark in zip(("",) + tuple(_TONES), circ):
                encode[nfc(up(base) + "\u0302" + tone)] = up(base) + mark
        for tone, mark in zip(("",) + tuple(_TONES), breve):
            encode[nfc(up("a") + "\u0306" + tone)] = up("a") + mark
    encode.update(_VNI_SINGLE)  # i with tones and ỵ are single bytes, not y + mark
    encode = {k: v for k, v in encode.items() if k != v}
    decode = {v: k for k, v in encode.items()}
    # A base and a mark of the other case (typed with Caps Lock, or fixed by hand): the base's case.
    for seq, letter in list(decode.items()):
        if len(seq) == 2:
            other = seq[0] + (seq[1].lower() if seq[1].isupper() else seq[1].upper())
            decode.setdefault(other, letter)
    return encode, decode


_VNI_ENCODE, _VNI_DECODE = _vni_tables()
# Longest match: a base letter and a diacritic byte, else a single-byte letter.
_VNI_PATTERN = re.compile("[{}][{}]|[{}]".format(
    *(re.escape("".join(sorted({k[i] for k in _VNI_DECODE if len(k) == n})))
      for i, n in ((0, 2), (1, 2), (0, 1)))))


def _vni_letter(match: re.Match) -> str:
    seq = match.group()
    letter = _VNI_DECODE.get(seq)
    if letter is None:  # a base and a mark that make no letter ("yâ"): each on its own
        letter = _VNI_DECODE.get(seq[0], seq[0]) + seq[1]
    return letter


# The Windows-1252 characters VNI uses for letters and marks: other text cannot use them.
_VNI_OCCUPIED = frozenset(ch for seq in _VNI_ENCODE.values() for ch in seq if ord(ch) >= 0x80)
# Windows-1252, with its five undefined bytes read as Latin-1 (so decoding never fails).
_CP1252_TABLE = "".join(
    bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))


def decode_tcvn3(data: bytes) -> str:
    """TCVN3 (TCVN 5712:1993) bytes -> NFC text."""
    text, _ = codecs.charmap_decode(data, "strict", _TCVN3_TABLE)
    return unicodedata.normalize("NFC", text)


def decode_vni(data: bytes) -> str:
    """VNI bytes -> NFC text (longest match: base letter + diacritic byte, then single bytes)."""
    pieces = []
    start = 0
    while start < len(data):  # a megabyte at a time, cut after a newline (no letter spans one)
        end = data.find(b"\n", start + (1 << 20))
        end = len(data) if end < 0 else end + 1
        chunk, _ = codecs.charmap_decode(data[start:end], "strict", _CP1252_TABLE)
        pieces.append(_VNI_PATTERN.sub(_vni_letter, chunk))
        start = end
    return unicodedata.normalize("NFC", "".join(pieces))


def _unencodable(encoding: str, text: str, i: int, errors: str) -> bytes:
    if errors == "replace":
        return b"?"
    raise UnicodeEncodeError(encoding, text, i, i + 1, "not representable")


def encode_tcvn3(text: str, errors: str = "strict") -> bytes:
    """NFC text -> TCVN3 bytes (TCVN 5712:1993; capitals with tones in their VN1 places).

    `errors`: "strict" raises UnicodeEncodeError for a character TCVN3 cannot hold, "replace"
    writes "?".
    """
    text = unicodedata.normalize("NFC", text)
    out = bytearray()
    for i, ch in enumerate(text):
        code = _TCVN3_ENCODE.get(ch)
        if code is not None:
            out += code
        elif ord(ch) < 0x80 and ord(ch) not in _TCVN3_LOW:
            out.append(ord(ch))
        else:
            out += _unencodable("tcvn3", text, i, errors)
    return bytes(out)


def encode_vni(text: str, errors: str = "strict") -> bytes:
    """NFC text -> VNI bytes. `errors` as for `encode_tcvn3`."""
    text = unicodedata.normalize("NFC", text)
    out = bytearray()
    for i, ch in enumerate(text):
        seq = _VNI_ENCODE.get(ch)
        if seq is not None:
            out += seq.encode("cp1252")
            continue
        if ch not in _VNI_OCCUPIED:
            try:
                out += ch.encode("cp1252")
                continue
            except UnicodeEncodeError:
                pass
        out += _unencodable("vni", text, i, errors)
    return bytes(out)


# --- telling the single-byte encodings apart ----------------------------------------------------
_VIET_LETTERS = frozenset(
    unicodedata.normalize("NFC", f(base + tone))
    for base in ("a", "a\u0306", "a\u0302", "e", "e\u0302", "i", "o", "o\u0302", "o\u031b",
                 "u", "u\u031b", "y")
    for tone in ("",) + tuple(_TONES)
    for f in (str.lower, str.upper)
) | frozenset("đĐ")
# Non-ASCII characters a Vietnamese sheet may hold that say nothing about the encoding.
_NEUTRAL = frozenset("\u00a0–—‘’“”…•°")
_WORD = re.compile(r"[^\W\d_]+")
_ONSET = "ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|b|c|d|đ|g|h|k|l|m|n|p|r|s|t|v|x"
# Vowel nuclei with their glides: those that end the syllable (ai, ao, iêu...), those that may
# take a final consonant (a, oa, uy...), and those that must (ă, â, iê, uô, ươ...).
_NUCLEUS_OPEN = ("iêu|oai|oao|oay|oeo|uây|uôi|uya|uyu|ươi|ươu|yêu|ai|ao|au|ay|âu|ây|eo|êu|ia|"
                 "iu|oi|ôi|ơi|ua|ui|uơ|ưa|ưi|ưu")
_NUCLEUS_CODA = "uyê|iê|yê|uô|ươ|oă|uâ|ă|â"
_NUCLEUS_BOTH = "oa|oe|uê|uy|a|e|ê|i|o|ô|ơ|u|ư|y"
_SYLLABLE = re.compile(
    f"(?:{_ONSET})?(?:(?:{_NUCLEUS_OPEN})|(?:{_NUCLEUS_CODA})(?P<coda>ch|ng|nh|c|m|n|p|t)"
    f"|(?:{_NUCLEUS_BOTH})(?P<coda2>ch|ng|nh|c|m|n|p|t)?)")
_STOP_TONES = frozenset("\u0301\u0323")  # a syllable ending in c ch p t takes sắc or nặng only
_SAMPLE_BYTES = 64 * 1024
_HIGH_LINE = re.compile(rb"[^\n]*[\x80-\xff][^\n]*")
_CANDIDATES = ("cp1258", "tcvn3", "vni")  # also the order that breaks a tie


def _plausible_syllable(word: str) -> bool:
    """Whether a word (letters only, NFC) is spelled like one Vietnamese syllable."""
    if not (word.islower() or word.isupper() or (word[0].isupper() and word[1:].islower())):
        return False
    tones = []
    letters = []
    for ch in unicodedata.normalize("NFD", word.lower()):
        (tones if ch in _TONES else letters).append(ch)
    if len(tones) > 1:
        return False
    match = _SYLLABLE.fullmatch(unicodedata.normalize("NFC", "".join(letters)))
    if match is None:
        return False
    coda = match.group("coda") or match.group("coda2")
    return not (coda in ("c", "ch", "p", "t") and (not tones or tones[0] not in _STOP_TONES))


@dataclass(frozen=True)
class _Score:
    syllables: int  # words with a non-ASCII letter spelled like a Vietnamese syllable
    words: int  # words with a non-ASCII letter
    strange: int  # non-ASCII characters that are neither Vietnamese letters nor neutral
    characters: int  # non-space characters

    @property
    def value(self) -> int:
        return self.syllables - (self.words - self.syllables) - self.strange

    @property
    def letter_share(self) -> float:
        return 1 - self.strange / self.characters if self.characters else 1.0

    @property
    def syllable_share(self) -> float:
        return self.syllables / self.words if self.words else 1.0


def _score(text: str) -> _Score:
    """How Vietnamese a decoding reads: its words and its characters.

    The three encodings fail differently on each other's bytes: VNI read as TCVN3 or
    Windows-1258 leaves Latin letters (ø ù û ï ñ ö) or tone marks after two vowels ("Haứ");
    TCVN3 read as the others gives symbols (µ ¸ ® §) or words no Vietnamese syllable spells
    ("Néi"); Windows-1258 read as the others loses its combining tone marks to symbols or to
    impossible syllables. So count the words with a non-ASCII letter that are plausible syllables
    (onset, vowel nucleus, coda, one tone, a stop coda with sắc/nặng only, one case pattern)
    against those that are not, and the characters that are neither Vietnamese letters nor ASCII.
    """
    words = syllables = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        words += 1
        syllables += _plausible_syllable(word)
    strange = characters = 0
    for ch in text:
        if ch.isascii():
            characters += not ch.isspace()
        else:
            characters += 1
            strange += ch not in _VIET_LETTERS and ch not in _NEUTRAL
    return _Score(syllables, words, strange, characters)


def _single_byte_sample(data: bytes) -> bytes:
    """The lines with non-ASCII bytes, up to 64 KB: enough to judge, whatever the file's size."""
    parts: list[bytes] = []
    size = 0
    for match in _HIGH_LINE.finditer(data):
        parts.append(match.group())
        size += len(match.group()) + 1
        if size >= _SAMPLE_BYTES:
            break
    return b"\n".join(parts)


def _decode_single(data: bytes, encoding: str) -> str:
    if encoding == "tcvn3":
        return decode_tcvn3(data)
    if encoding == "vni":
        return decode_vni(data)
    return unicodedata.normalize("NFC", data.decode("cp1258", errors="replace"))


# --- detection --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Detection:
    """How a file's encoding was decided (for the import report)."""

    encoding: str  # utf-8, utf-8-sig, utf-16, cp1258, tcvn3, vni
    bom: bool = False
    guessed: bool = False  # chosen among the single-byte encodings by how Vietnamese they read
    confident: bool = True  # False: a guess on little evidence or with a close runner-up
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # guessed: per candidate

    @property
    def name(self) -> str:
        return ENCODING_NAMES.get(self.encoding, self.encoding)


@dataclass(frozen=True)
class Decoded:
    text: str  # NFC
    detection: Detection

    @property
    def encoding(self) -> str:
        return self.detection.encoding


_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive (an XLSX or ODS workbook?)"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel or Word file (XLS/DOC)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
# C0 controls no text file holds (TAB LF VT FF CR are text; VN1 letters are TCVN3's).
_BINARY_BYTES = re.compile(rb"[\x00\x03\x07\x08\x0e-\x10\x18-\x1f\x7f]")
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _not_text(what: str) -> TextFileError:
    return TextFileError("not_text", f"not a text file: {what}")


def _too_many_controls(found: int, size: int) -> bool:
    """More control characters than a typed sheet has (a few stray ones are only cleaned away)."""
    return found > max(8, size // 50)


def _check_text_chars(text: str) -> None:
    size = min(len(text), 1 << 20)
    if "\x00" in text or _too_many_controls(len(_BINARY_CHARS.findall(text, 0, size)), size):
        raise _not_text("it holds NUL or other control characters")


def decode(data: bytes) -> Decoded:
    """Decode a text file's bytes (see the module's docstring for the order of detection)."""
    data = bytes(data)
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            raise _not_text(what)
    if data.startswith(codecs.BOM_UTF8):
        try:
            text = data[len(codecs.BOM_UTF8):].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_text(f"a UTF-8 byte-order mark, then invalid UTF-8 at byte {exc.start + 3}")
        _check_text_chars(text)
        return Decoded(unicodedata.normalize("NFC", text), Detection("utf-8-sig", bom=True))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")  # reads the BOM, drops it
        except UnicodeDecodeError:
            raise _not_text("a UTF-16 byte-order mark, then invalid UTF-16")
        _check_text_chars(text)
        return Decoded(unicodedata.normalize("NFC", text), Detection("utf-16", bom=True))
    if b"\x00" in data:
        raise _not_text("it holds NUL bytes (UTF-16 text must start with its byte-order mark)")
    sample_size = min(len(data), 1 << 20)
    if _too_many_controls(len(_BINARY_BYTES.findall(data, 0, sample_size)), sample_size):
        raise _not_text("it holds control bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return Decoded(unicodedata.normalize("NFC", text), Detection("utf-8"))
    return _decode_guessed(data)


def _decode_guessed(data: bytes) -> Decoded:
    sample = _single_byte_sample(data)
    scores = {enc: _score(_decode_single(sample, enc)) for enc in _CANDIDATES}
    ranked = sorted(_CANDIDATES, key=lambda enc: -scores[enc].value)  # stable: ties keep order
    best, runner_up = ranked[0], ranked[1]
    margin = scores[best].value - scores[runner_up].value
    confident = margin >= 3 and scores[best].words >= 3
    report = {enc: {"score": s.value, "letters": round(s.letter_share, 3),
                    "syllables": round(s.syllable_share, 3), "words": s.words}
              for enc, s in scores.items()}
    return Decoded(_decode_single(data, best),
                   Detection(best, guessed=True, confident=confident, scores=report))


# --- rows -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    rows: list[list[str]]  # the header row first; cells cleaned (NFC, no controls, stripped)
    delimiter: str
    detection: Detection

    @property
    def encoding(self) -> str:
        return self.detection.encoding


_SNIFF_CHARS = 16 * 1024
_SNIFF_RECORDS = 20
_NEWLINES = re.compile(r"\r\n?")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_SEP_LINE = re.compile(r"sep=(.)[ \t]*(?:\n|$)")  # Excel's "sep=;" first line


def _records(sample: str, delimiter: str, truncated: bool) -> list[list[str]]:
    records = []
    try:
        for record in csv.reader((m.group() for m in _LINE.finditer(sample)), delimiter=delimiter):
            records.append(record)
            if len(records) > _SNIFF_RECORDS:
                break
    except csv.Error:
        return []
    if truncated and len(records) <= _SNIFF_RECORDS and len(records) > 1:
        records.pop()  # the sample may have cut the last record short
    return records


def _fit(sample: str, delimiter: str, truncated: bool) -> tuple[bool, int, float]:
    """(consistent, fields in the header, share of records with the header's field count)."""
    records = [r for r in _records(sample, delimiter, truncated) if any(c.strip() for c in r)]
    if not records:
        return False, 0, 0.0
    width = len(records[0])
    rest = records[1:]
    share = sum(len(r) == width for r in rest) / len(rest) if rest else 1.0
    return width >= 2 and share >= 0.8, width, share


def _sniff(text: str) -> str:
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > len(sample)
    if truncated and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    try:
        guess = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        guess = None
    # Counting: the delimiter that splits the first records into the most fields, the same number
    # in (nearly) every record. csv.Sniffer's guess stands when it fits as well as any.
    fits = {d: _fit(sample, d, truncated) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: fits[d])
    if guess in fits and fits[guess][0] and fits[guess][1] >= fits[best][1]:
        return guess
    return best if fits[best][1] >= 2 else ","


def read_rows(data: bytes) -> Table:
    """A CSV/TSV file's rows, decoded (`decode`) and cleaned; the header row first.

    Rows keep the spreadsheet's numbering (an empty line in the middle is an empty row); empty
    rows at the end are dropped. Embedded newlines in quoted cells are kept, as "\\n".
    """
    decoded = decode(data)
    text, detection = decoded.text, decoded.detection
    del decoded  # one copy of the text at a time
    if "\r" in text:
        text = _NEWLINES.sub("\n", text)
    declared = None
    sep = _SEP_LINE.match(text)
    if sep and sep.group(1) in DELIMITERS:
        declared = sep.group(1)
        text = text[sep.end():]
    delimiter = declared or _sniff(text)
    rows: list[list[str]] = []
    reader = csv.reader((m.group() for m in _LINE.finditer(text)), delimiter=delimiter)
    try:
        for record in reader:
            rows.append([(clean(cell, multiline=True) or "").strip() for cell in record])
    except csv.Error as exc:
        raise TextFileError("bad_csv", f"line {reader.line_num}: {exc}") from None
    while rows and not any(rows[-1]):
        rows.pop()
    return Table(rows, delimiter, detection)
