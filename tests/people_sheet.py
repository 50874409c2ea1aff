"""A people sheet of 500 invented rows for the import tests, with 20 planted mistakes, one per
row (interfaces.md people columns, Vietnamese headers). `PLANTED` maps each planted row's number
(as a spreadsheet shows it: the header is row 1) to the code it must be rejected with."""

from __future__ import annotations

import datetime

HEADER = ["Họ và tên", "Giới tính", "Ngày sinh", "Dân tộc", "Số CCCD", "Số điện thoại",
          "Trình độ phổ thông", "Nghề nghiệp", "Nơi ở", "Đoàn viên", "Chi bộ", "Đảng tịch",
          "Ngày vào Đảng", "Ngày kết nạp", "Ngày chính thức"]

FAMILY = ["Hoàng", "Nông", "Lục", "Triệu", "Hà", "Ma", "Lý", "Bế", "Đàm", "Dương"]
MIDDLE = {"M": ["Văn", "Đức", "Minh", "Quang"], "F": ["Thị", "Thu", "Ngọc", "Hồng"]}
GIVEN = {"M": ["Dũng", "Hùng", "Tuấn", "Bình", "Cường", "Sơn", "Kiên", "Thành", "Phong", "Hải", "Lâm"],
         "F": ["Lan", "Hoa", "Mai", "Hương", "Nga", "Hằng", "Yến", "Thảo", "Huyền", "Ánh", "Ngọc"]}
BRANCHES = ["NS-NP-03", "NS-NP-05", "NS-NP-06", "Chi bộ Tổ dân phố Nà Cháo", "NS-BV-01"]

# row number -> (column to spoil, bad value, expected code)
MISTAKES = {
    12: ("Ngày sinh", "31/02/1990", "bad_value"),
    35: ("Ngày sinh", "1990-13-01", "bad_value"),
    58: ("Ngày sinh", "không rõ", "bad_value"),
    81: ("Ngày sinh", "12/1990", "bad_value"),
    104: ("Số CCCD", "12345", "bad_value"),
    127: ("Số CCCD", "0991234567AB", "bad_value"),
    150: ("Số CCCD", "099100000000123", "bad_value"),
    173: ("Số CCCD", "DUP:20", "duplicate_citizen_id"),
    196: ("Số CCCD", "DUP:40", "duplicate_citizen_id"),
    219: ("Chi bộ", "NS-NP-99", "unknown_branch"),
    242: ("Chi bộ", "Chi bộ không có thật", "unknown_branch"),
    265: ("Chi bộ", "XYZ", "unknown_branch"),
    288: ("Họ và tên", "", "missing_value"),
    311: ("Họ và tên", "   ", "missing_value"),
    334: ("Họ và tên", "", "missing_value"),
    357: ("Ngày sinh", "01/01/2030", "date_in_future"),
    380: ("Ngày sinh", "2025-06-01", "date_in_future"),
    403: ("Ngày sinh", "15/10/2021", "date_in_future"),
    426: ("Giới tính", "X", "bad_value"),
    449: ("Giới tính", "Khác", "bad_value"),
}
PLANTED = {row: code for row, (_c, _v, code) in MISTAKES.items()}


def citizen_id(n: int) -> str:
    return f"0991{n:08d}"  # province code 099 does not exist: no real person's number


def rows(count: int = 500) -> list[list[str]]:
    """The header and `count` data rows (row 2 .. count + 1)."""
    out = [list(HEADER)]
    for number in range(2, count + 2):
        i = number - 2
        sex = "M" if i % 2 == 0 else "F"
        name = f"{FAMILY[i % 10]} {MIDDLE[sex][i // 10 % 4]} {GIVEN[sex][i // 40 % 11]}"
        born = datetime.date(1960 + i % 40, 1 + i % 12, 1 + i % 28)
        member = i % 5 == 4
        row = {
            "Họ và tên": name, "Giới tính": "Nam" if sex == "M" else "Nữ",
            "Ngày sinh": born.strftime("%d/%m/%Y"), "Dân tộc": ["Tày", "Nùng", "Dao", "Kinh"][i % 4],
            "Số CCCD": citizen_id(i), "Số điện thoại": f"09{i:08d}",
            "Trình độ phổ thông": "12/12", "Nghề nghiệp": ["Nông dân", "Giáo viên", "Công chức"][i % 3],
            "Nơi ở": f"thôn số {i % 9 + 1}, xã Vân Tùng", "Đoàn viên": "có" if i % 3 == 0 else "không",
            "Chi bộ": BRANCHES[i % 5], "Đảng tịch": "", "Ngày vào Đảng": "", "Ngày kết nạp": "",
            "Ngày chính thức": "",
        }
        if member:
            admitted = datetime.date(min(born.year + 25, 2015), 3, 10)
            ceremony = admitted + datetime.timedelta(days=20)
            row["Ngày vào Đảng"] = admitted.strftime("%d/%m/%Y")
            row["Ngày kết nạp"] = ceremony.strftime("%d/%m/%Y")
            if i % 10 == 9:
                row["Đảng tịch"] = "Chính thức"
                row["Ngày chính thức"] = ceremony.replace(year=ceremony.year + 1).strftime("%d/%m/%Y")
            else:
                row["Đảng tịch"] = "Dự bị"
                row["Ngày kết nạp"] = "01/06/2021"
                row["Ngày vào Đảng"] = "10/05/2021"
        if number in MISTAKES:
            column, value, _code = MISTAKES[number]
            row[column] = citizen_id(int(value[4:]) - 2) if value.startswith("DUP:") else value
        out.append([row[h] for h in HEADER])
    return out
