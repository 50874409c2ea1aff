"""db.textfile: the CSV/TSV files committees really have, in every Vietnamese encoding."""

from __future__ import annotations

import codecs
import csv
import io
import random
import unicodedata
import zipfile

import pytest

from db import textfile
from db.textfile import TextFileError, decode, encode_tcvn3, encode_vni, read_rows

_TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_BASES = ("a", "a\u0306", "a\u0302", "e", "e\u0302", "i", "o", "o\u0302", "o\u031b", "u",
          "u\u031b", "y")
LETTERS = sorted({unicodedata.normalize("NFC", f(b + t)) for b in _BASES for t in _TONES
                  for f in (str.lower, str.upper)} | {"đ", "Đ"})
# The letters that are not ASCII: 67 lower-case and 67 capitals.
VIETNAMESE = [ch for ch in LETTERS if not ch.isascii()]

SHEET = [
    ["Họ và tên", "Ngày sinh", "Giới tính", "Dân tộc", "Nơi ở", "Chi bộ", "Ghi chú"],
    ["Hoàng Thị Mai", "12/04/2001", "Nữ", "Tày", "thôn Nà Phặc, xã Vân Tùng",
     "Chi bộ thôn Nà Phặc", "Đoàn viên; đã học lớp cảm tình Đảng"],
    ["Nông Văn Dũng", "03/11/1998", "Nam", "Nùng", "thôn Khuổi Sáp, xã Thượng Quan",
     "Chi bộ thôn Khuổi Sáp", "Giáo viên trường Tiểu học\nxã Thượng Quan"],
    ["Lý Thị Ngọc Ánh", "27/08/2000", "Nữ", "Dao", "tổ dân phố Pò Đon, thị trấn Nà Phặc",
     "Chi bộ Trạm Y tế", "Y sĩ | điều dưỡng"],
    ["Triệu Đức Thịnh", "15/01/1995", "Nam", "Dao", "thôn Bản Sảng, xã Hiệp Lực",
     "Chi bộ thôn Bản Sảng", "Ủy viên Ban chấp hành Đoàn xã"],
    ["Ma Thị Hường", "30/06/1999", "Nữ", "Tày", "thôn Cốc Lùng, xã Đức Vân",
     "Chi bộ Trường THCS", "Ưu tú, đề nghị kết nạp \"đợt 19/5\""],
    ["Đặng Quốc Việt", "09/09/1997", "Nam", "Kinh", "thôn Nà Ngò, xã Bằng Vân",
     "Chi bộ thôn Nà Ngò", "Chuyển từ Ngân Sơn về; ảnh hưởng ít"],
]


def as_csv(rows: list[list[str]], delimiter: str = ",", newline: str = "\r\n") -> str:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue()


def encode_cp1258(text: str) -> bytes:
    """Text as Windows writes it in code page 1258: a base letter (â ă ê ô ơ ư đ are in the code
    page) and a combining tone mark, unless the letter with its tone is itself in the code page."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        nfd = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in nfd if c in _TONES[1:])
        base = unicodedata.normalize("NFC", "".join(c for c in nfd if c not in _TONES[1:]))
        out += base.encode("cp1258") + tones.encode("cp1258")
    return bytes(out)


SHEET_TEXT = as_csv(SHEET)
ENCODINGS = {
    "utf-8": lambda s: s.encode("utf-8"),
    "utf-8-sig": lambda s: s.encode("utf-8-sig"),
    "utf-16": lambda s: codecs.BOM_UTF16_LE + s.encode("utf-16-le"),  # Excel's "Unicode text"
    "cp1258": encode_cp1258,
    "tcvn3": encode_tcvn3,
    "vni": encode_vni,
}


# --- the encoders and decoders ------------------------------------------------------------------
def test_every_vietnamese_letter():
    assert len(VIETNAMESE) == 134
    assert sum(ch.islower() for ch in VIETNAMESE) == 67


@pytest.mark.parametrize("encode, decode_", [(encode_tcvn3, textfile.decode_tcvn3),
                                             (encode_vni, textfile.decode_vni)],
                         ids=["tcvn3", "vni"])
def test_every_letter_round_trips(encode, decode_):
    for ch in LETTERS:
        assert decode_(encode(ch)) == ch, ch
    # and in words, where VNI's two-byte letters sit next to each other
    words = " ".join(ch + "n" + ch.lower() + "ng" for ch in VIETNAMESE)
    assert decode_(encode(words)) == words


def test_tcvn3_is_single_byte_and_vni_uses_base_and_mark():
    assert all(len(encode_tcvn3(ch)) == 1 for ch in VIETNAMESE)
    # the published codes people know from the .VnTime fonts ("Hµ Néi", "§¶ng")
    assert encode_tcvn3("Hà Nội") == b"H\xb5 N\xe9i"
    assert encode_tcvn3("Đảng") == b"\xa7\xb6ng"
    assert encode_vni("Việt Nam") == "Vieät Nam".encode("cp1252")
    assert encode_vni("Đảng người") == "Ñaûng ngöôøi".encode("cp1252")
    assert encode_vni("Ánh Ỵ ỵ ì") == "AÙnh Î î ì".encode("cp1252")


def test_tcvn3_reads_the_abc_combining_marks():
    # TCVN3 also has the five tone marks as bytes 0xB0-0xB4, after a letter
    assert textfile.decode_tcvn3(b"Nga\xb0y") == "Ngày"  # grave
    assert textfile.decode_tcvn3(b"\xa9\xb3") == "ấ"


def test_vni_mark_of_the_other_case_follows_the_base():
    assert textfile.decode_vni("AÙNH aÙ".encode("cp1252")) == "ÁNH á"
    assert textfile.decode_vni("Aùnh".encode("cp1252")) == "Ánh"


def test_encoders_refuse_what_they_cannot_hold():
    with pytest.raises(UnicodeEncodeError):
        encode_tcvn3("Chữ Hán 漢")
    assert encode_tcvn3("Hán 漢", errors="replace") == b"H\xb8n ?"
    with pytest.raises(UnicodeEncodeError):
        encode_vni("ñ in Spanish is đ in VNI".replace("đ", "d"))


# --- detection ----------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_the_sheet_in_every_encoding_gives_the_same_rows(encoding):
    data = ENCODINGS[encoding](SHEET_TEXT)
    table = read_rows(data)
    assert table.encoding == encoding
    assert table.delimiter == ","
    assert table.rows == SHEET
    decoded = decode(data)
    assert decoded.encoding == encoding
    assert unicodedata.is_normalized("NFC", decoded.text)
    if encoding in ("cp1258", "tcvn3", "vni"):
        assert decoded.detection.guessed and decoded.detection.confident
        assert set(decoded.detection.scores) == {"cp1258", "tcvn3", "vni"}
    else:
        assert not decoded.detection.guessed


def test_excel_unicode_text_is_utf16_with_tabs():
    data = b"\xff\xfe" + as_csv(SHEET, "\t").encode("utf-16-le")
    table = read_rows(data)
    assert (table.encoding, table.delimiter, table.rows) == ("utf-16", "\t", SHEET)
    big_endian = b"\xfe\xff" + as_csv(SHEET, "\t").encode("utf-16-be")
    assert read_rows(big_endian).rows == SHEET


@pytest.mark.parametrize("encoding", ["cp1258", "tcvn3", "vni"])
@pytest.mark.parametrize("row", range(1, len(SHEET)))
def test_one_row_alone_is_enough_to_tell(encoding, row):
    data = ENCODINGS[encoding](as_csv([SHEET[row]]))
    assert decode(data).encoding == encoding
    assert read_rows(data).rows == [SHEET[row]]


@pytest.mark.parametrize("encoding", ["cp1258", "tcvn3", "vni"])
def test_many_generated_names(encoding):
    rng = random.Random(5)
    family = ["Nguyễn", "Hoàng", "Nông", "Lý", "Triệu", "Ma", "Lục", "Đặng", "Bế", "Hà", "Lưu"]
    middle = ["Văn", "Thị", "Đức", "Ngọc", "Thu", "Quang", "Minh", "Xuân", "Hữu"]
    given = ["Ánh", "Dũng", "Thịnh", "Mai", "Hường", "Việt", "Bảo", "Bích", "Tuấn", "Hạnh",
             "Lộc", "Nguyệt", "Khuê", "Ước", "Ỷ", "Ý", "Yến", "Thắm", "Quỳnh", "Toản"]
    places = ["thôn Nà Phặc", "xã Vân Tùng", "xã Cốc Đán", "Bằng Vân", "Thuần Mang",
              "Thượng Ân", "Trung Hòa", "Hiệp Lực", "Đức Vân", "Lãng Ngâm"]
    rows = [["Họ và tên", "Ngày sinh", "Nơi ở"]]
    for _ in range(300):
        rows.append([f"{rng.choice(family)} {rng.choice(middle)} {rng.choice(given)}",
                     f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1950, 2004)}",
                     f"{rng.choice(places)}, {rng.choice(places)}"])
    table = read_rows(ENCODINGS[encoding](as_csv(rows, ";")))
    assert (table.encoding, table.delimiter, table.rows) == (encoding, ";", rows)


def test_pure_ascii_is_utf8():
    data = b"full_name,born\nNguyen Van An,2001-04-12\n"
    for blob in (data, encode_tcvn3(data.decode()), encode_vni(data.decode()),
                 encode_cp1258(data.decode())):
        assert decode(blob).encoding == "utf-8"
    assert read_rows(data).rows == [["full_name", "born"], ["Nguyen Van An", "2001-04-12"]]


def test_nfd_utf8_is_composed():
    text = unicodedata.normalize("NFD", "Họ và tên\nLý Thị Ngọc Ánh\n")
    decoded = decode(text.encode())
    assert decoded.text == "Họ và tên\nLý Thị Ngọc Ánh\n"
    assert read_rows(text.encode()).rows == [["Họ và tên"], ["Lý Thị Ngọc Ánh"]]


@pytest.mark.parametrize("data", [
    b"", b"\n", b"\xe9", b"\xb5", b"\xff", b"a\xf9", b"\xc3\xa0\xe0", b"\xd0\xf2\n\xcc", b",;\t|",
    b"\"", b"\"unterminated,a\nb", b"sep=;\n", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf",
    bytes(range(0x80, 0x100)), b"\xa7\xb6ng", "Đảng".encode("cp1252", "ignore"),
    bytes([0x01, 0x16]),
])
def test_short_ambiguous_inputs_do_not_crash(data):
    decoded = decode(data)
    assert decoded.encoding in textfile.ENCODING_NAMES
    table = read_rows(data)
    assert table.delimiter in textfile.DELIMITERS
    assert all(isinstance(cell, str) for row in table.rows for cell in row)


def test_empty_file_has_no_rows():
    assert read_rows(b"").rows == []
    assert read_rows(b"\r\n\r\n").rows == []


# --- delimiters and cells -----------------------------------------------------------------------
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "tcvn3", "vni"])
def test_delimiters(delimiter, encoding):
    data = ENCODINGS[encoding](as_csv(SHEET, delimiter))
    table = read_rows(data)
    assert (table.delimiter, table.rows) == (delimiter, SHEET)


def test_quoted_cells_with_delimiters_quotes_and_newlines():
    data = ('Họ và tên,Nơi ở,Ghi chú\r\n'
            '"Hoàng Thị Mai","thôn Nà Phặc, xã Vân Tùng","dòng 1\r\ndòng 2, ""trích"""\r\n'
            'Nông Văn Dũng,"a;b|c\tđ",\r\n').encode()
    assert read_rows(data).rows == [
        ["Họ và tên", "Nơi ở", "Ghi chú"],
        ["Hoàng Thị Mai", "thôn Nà Phặc, xã Vân Tùng", 'dòng 1\ndòng 2, "trích"'],
        ["Nông Văn Dũng", "a;b|c\tđ", ""],
    ]


def test_cells_are_cleaned_and_the_trailing_empty_line_dropped():
    data = "Họ và tên;Ngày sinh\n  Lý Thị\x1b[31m Ánh \x07; 27/08/2000 \n\n;\n".encode()
    table = read_rows(data)
    assert table.rows == [["Họ và tên", "Ngày sinh"], ["Lý Thị[31m Ánh", "27/08/2000"]]


def test_empty_rows_in_the_middle_keep_the_row_numbers():
    data = b"a,b\n1,2\n\n3,4\n"
    assert read_rows(data).rows == [["a", "b"], ["1", "2"], [], ["3", "4"]]


def test_old_mac_line_ends_and_excel_sep_line():
    assert read_rows(b"a;b\r1;2\r").rows == [["a", "b"], ["1", "2"]]
    table = read_rows(b"sep=,\r\nx;y,z\r\n1;2,3\r\n")
    assert (table.delimiter, table.rows) == (",", [["x;y", "z"], ["1;2", "3"]])


def test_a_single_column_file():
    table = read_rows("Họ và tên\nHoàng Thị Mai\nNông Văn Dũng\n".encode())
    assert table.rows == [["Họ và tên"], ["Hoàng Thị Mai"], ["Nông Văn Dũng"]]


def test_delimiter_in_notes_does_not_fool_the_sniffer():
    rows = [["Họ và tên", "Ghi chú", "Chi bộ"]] + [
        [f"Người {i}", "ý kiến: tốt; chăm chỉ", "Chi bộ 1"] for i in range(10)]
    table = read_rows(as_csv(rows).encode())
    assert (table.delimiter, table.rows) == (",", rows)


# --- what is not text ---------------------------------------------------------------------------
def test_a_zip_or_xlsx_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    for call in (decode, read_rows):
        with pytest.raises(TextFileError) as caught:
            call(buffer.getvalue())
        assert caught.value.code == "not_text"
        assert "zip" in caught.value.message


@pytest.mark.parametrize("data", [
    b"a,b\n\x00\x01\x02\x03",
    "Họ và tên".encode("utf-16-le"),  # UTF-16 without its byte-order mark
    bytes(range(256)) * 4,
    b"\x7fELF\x02\x01\x01" + bytes(range(1, 32)) * 10,
    b"\xff\xfe" + "ab".encode("utf-16-le") + b"\x00\x00",  # UTF-16 text with a NUL
    b"\xff\xfe\x00",  # odd length
])
def test_binary_is_refused(data):
    with pytest.raises(TextFileError) as caught:
        read_rows(data)
    assert caught.value.code == "not_text"


def test_a_big_file_is_read_whole(tmp_path):
    rows = [SHEET[0]] + [SHEET[1 + i % (len(SHEET) - 1)] for i in range(50_000)]
    data = encode_tcvn3(as_csv(rows))
    assert len(data) > 5_000_000
    table = read_rows(data)
    assert table.encoding == "tcvn3"
    assert len(table.rows) == len(rows)
    assert table.rows[-1] == rows[-1]


def test_capitals_with_tones_in_tcvn3_and_vni():
    rows = [["HỌ VÀ TÊN", "NƠI Ở"], ["LÝ THỊ NGỌC ÁNH", "THÔN NÀ PHẶC, XÃ VÂN TÙNG"],
            ["TRIỆU ĐỨC THỊNH", "ỦY BAN NHÂN DÂN XÃ ĐỨC VÂN"]]
    for encoding in ("tcvn3", "vni", "cp1258"):
        table = read_rows(ENCODINGS[encoding](as_csv(rows)))
        assert (table.encoding, table.rows) == (encoding, rows)


def test_a_vntime_file_reads_its_capitals_as_the_codes_it_holds():
    # The .VnTime fonts (TCVN3 proper, VN3) had no capitals with tones: "Ánh" was typed with the
    # code of "á" in a .VnTimeH font. The bytes say "á", and so does the result.
    data = encode_tcvn3("Họ và tên\nLý Thị Ngọc ánh\n")
    assert read_rows(data).rows == [["Họ và tên"], ["Lý Thị Ngọc ánh"]]


def test_a_guess_on_one_short_word_is_not_confident():
    detection = decode("Văn".encode("cp1258")).detection
    assert detection.guessed and not detection.confident
    assert decode(ENCODINGS["tcvn3"](SHEET_TEXT)).detection.scores["tcvn3"]["syllables"] == 1.0


def test_a_runaway_quote_is_a_csv_error_not_a_crash():
    with pytest.raises(TextFileError) as caught:
        read_rows(b'a,b\n"' + b"x" * 200_000 + b"\n")
    assert caught.value.code == "bad_csv"


def test_a_delimiter_in_every_row_of_one_column_does_not_win():
    rows = [["Họ và tên", "Ghi chú; ý kiến", "Chi bộ", "Ngày sinh"]] + [
        [f"Người {i}", f"tốt; {i}", "Chi bộ 1", "01/01/2000"] for i in range(10)]
    for delimiter in (",", "|", "\t"):
        table = read_rows(as_csv(rows, delimiter).encode())
        assert (table.delimiter, table.rows) == (delimiter, rows)
