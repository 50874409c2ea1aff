"""A small, deterministic database for the screen and snapshot tests (and for trying the screens).

Everything here is invented: a province, a district, two grassroots committees, a handful of
branches (one of them ended, one with a name that looks like markup) and about sixty people,
some members, some candidates with files at various stages. Nothing depends on the clock.

    python -m tests.snapshot_app /tmp/sample.sqlite3    # build a file to run the app against
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from db import models
from db.access import ensure_admin
from db.text import clean, fold, name_sort_key

TODAY = datetime.date(2021, 9, 30)
D = datetime.date

# A person whose stored name looks like Rich markup and once held an escape sequence.
MARKUP_NAME_RAW = "[bold]Lò[/bold] \x1b[31m"
MARKUP_UNIT_NAME = "Chi bộ thôn [bold]Lò[/bold]"

_FAMILY = ["Nông", "Hoàng", "Triệu", "Lý", "Hà", "Lường", "Ma", "Bàn", "Đặng", "Nguyễn", "Lục"]
_MIDDLE = ["Văn", "Thị", "Đức", "Thanh", "Thu", "Minh"]
_GIVEN = ["Mai", "Hoạt", "Thắng", "Lan", "Hùng", "Dũng", "Đào", "Ánh", "Bình", "Cường",
          "Ân", "Ấn", "Hà", "Hải", "Hạnh", "Huyền", "Giang", "Yến", "Tùng", "Uyên", "Sơn",
          "Đông", "Dương", "Ơn"]


@dataclass(frozen=True)
class Sample:
    admin_login: str
    province: int
    district: int
    town: int  # the grassroots committee with most of the people
    big_branch: int  # more people than one screen holds
    small_branch: int
    markup_branch: int
    ended_branch: int
    mai_case: int  # a file with every kind of detail
    markup_case: int
    probationary_case: int  # admitted, ceremony held, one step undone


def _unit(code, name, level, org_type, parent, founded=D(2000, 1, 1), ended=None, category=None,
          order=0, mountain=True):
    unit = models.Unit.create(code=code, name=clean(name), name_folded=fold(name), level=level,
                              org_type=org_type, category=category, parent=parent,
                              founded=founded, ended=ended, mountain=mountain, sort_order=order)
    models.UnitLink.create(unit=unit, parent=parent, start=founded, end=ended)
    return unit


def _person(name, branch, born, sex, **extra):
    full = clean(name)
    return models.Person.create(full_name=full, name_folded=fold(full), sort_key=name_sort_key(full),
                                branch=branch, born=born, sex=sex, **extra)


def _member(person, admitted, official=True):
    ceremony = admitted + datetime.timedelta(days=14)
    official_on = D(ceremony.year + 1, ceremony.month, min(ceremony.day, 28)) if official else None
    models.Membership.create(person=person, admitted_on=admitted, ceremony_on=ceremony,
                             official_on=official_on)


def _case(person, branch, steps):
    """Open a file and record `steps`: (stage, date, unit, extra dict)."""
    case = models.CaseFile.create(person=person, branch=branch, stage=steps[-1][0])
    for seq, (stage, day, unit, extra) in enumerate(steps, start=1):
        step = models.Step.create(case=case, seq=seq, stage=stage, date=day, unit=unit,
                                  received=extra.get("received"),
                                  details=json.dumps(extra.get("details", {})),
                                  undone_at=(datetime.datetime(day.year, day.month, day.day, 12)
                                             if "undone" in extra else None),
                                  undo_reason=extra.get("undone"))
        for kind, number, date, votes in extra.get("resolutions", ()):
            models.Resolution.create(step=step, kind=kind, number=number, date=date,
                                     votes_for=votes[0] if votes else None,
                                     votes_convened=votes[1] if votes else None,
                                     votes_excused=votes[2] if votes else None)
    return case


def _probationary(branch, town, district):
    """A file that went all the way to the ceremony, with one step entered by mistake and undone."""
    person = _person("Bàn Thị Thu", branch, D(1998, 8, 8), "F", ethnicity="Dao", education="9/12",
                     youth_union=True)
    case = _case(person, branch, [
        ("identified", D(2019, 10, 1), branch, {}),
        ("certified", D(2019, 11, 2), town, {"undone": "Nhập nhầm ngày"}),
        ("in_class", D(2019, 11, 4), town, {}),
        ("certified", D(2019, 11, 20), town, {}),
        ("dossier", D(2020, 1, 6), branch, {}),
        ("branch_approved", D(2020, 6, 1), branch,
         {"resolutions": [("branch_resolution", "07-NQ/CB", D(2020, 6, 1), (6, 7, 0))]}),
        ("committee_approved", D(2020, 6, 15), town,
         {"resolutions": [("committee_resolution", "21-NQ/ĐU", D(2020, 6, 15), (10, 11, 1))]}),
        ("admitted", D(2020, 10, 20), district,
         {"received": D(2020, 10, 23),
          "resolutions": [("decision", "215-QĐ/HU", D(2020, 10, 20), None)]}),
        ("probationary", D(2020, 11, 5), branch, {}),
    ])
    models.Certificate.create(person=person, kind="awareness", number="88/CN",
                              issued=D(2019, 11, 20), issuer="Trung tâm Chính trị huyện Ngân Sơn")
    models.Membership.create(person=person, case=case, admitted_on=D(2020, 10, 20),
                             ceremony_on=D(2020, 11, 5))
    return case


def build_sample(admin_login: str = "tester") -> Sample:
    """Fill the (empty, migrated, bound) database with the sample; returns the ids tests need."""
    ensure_admin(admin_login)
    with models.database.atomic():
        province = _unit("BK", "Tỉnh ủy Bắc Kạn", "province", "committee", None)
        district = _unit("BK-NS", "Huyện ủy Ngân Sơn", "district", "committee", province)
        town = _unit("NS-NP", "Đảng bộ thị trấn Nà Phặc", "commune", "grassroots_committee",
                     district, order=1)
        commune = _unit("NS-VT", "Đảng bộ xã Vân Tùng", "commune", "grassroots_committee",
                        district, order=2)
        big = _unit("NP-01", "Chi bộ thôn Nà Phặc", None, "branch", town, category="village",
                    order=1)
        small = _unit("NP-02", "Chi bộ thôn Khuổi Mạn", None, "branch", town, category="village",
                      order=2)
        markup = _unit("NP-03", MARKUP_UNIT_NAME, None, "branch", town, category="village",
                       order=3)
        ended = _unit("NP-90", "Chi bộ cơ quan thị trấn", None, "branch", town, category="agency",
                      order=9, ended=D(2020, 6, 30))
        vt1 = _unit("VT-01", "Chi bộ thôn Bản Chang", None, "branch", commune, category="village")
        _unit("VT-02", "Chi bộ Trường Tiểu học Vân Tùng", None, "branch", commune,
              category="school")

        # 45 people in the big branch: members first, a few candidates among them.
        people = []
        for i in range(45):
            name = f"{_FAMILY[i % 11]} {_MIDDLE[(i * 7) % 6]} {_GIVEN[(i * 5) % 24]}"
            sex = "F" if "Thị" in name or i % 3 == 0 else "M"
            person = _person(name, big, D(1960 + (i * 7) % 40, 1 + i % 12, 1 + (i * 3) % 28), sex,
                             ethnicity=["Tày", "Nùng", "Dao", "Kinh"][i % 4])
            people.append(person)
            if i % 5 != 0:
                _member(person, D(1990 + i % 30, 1 + i % 12, 10), official=i % 9 != 1)
        for i, person in enumerate(people[::10][1:]):
            _case(person, big, [("identified", D(2021, 2, 1 + i), big, {}),
                                ("in_class", D(2021, 4, 5 + i), town, {})])

        mai = _person("Hoàng Thị Mai", big, D(2001, 4, 12), "F", other_name="Mai Hoàng",
                      ethnicity="Tày", religion="Không", residence="Thôn Nà Phặc, thị trấn Nà Phặc",
                      education="12/12", occupation="Giáo viên mầm non", youth_union=True,
                      citizen_id="000301000001")
        intro1, intro2 = people[1], people[2]
        mai_case = _case(mai, big, [
            ("identified", D(2020, 3, 1), big, {}),
            ("in_class", D(2020, 5, 10), town, {}),
            ("certified", D(2020, 5, 20), town, {}),
            ("dossier", D(2020, 6, 1), big, {}),
            ("branch_approved", D(2020, 9, 1), big,
             {"resolutions": [("branch_resolution", "12-NQ/CB", D(2020, 9, 1), (20, 27, 2))]}),
            ("committee_approved", D(2020, 9, 15), town,
             {"resolutions": [("committee_resolution", "30-NQ/ĐU", D(2020, 9, 15), (9, 11, 0))]}),
        ])
        models.Certificate.create(person=mai, kind="awareness", number="123/CN",
                                  issued=D(2020, 5, 20), issuer="Trung tâm Chính trị huyện Ngân Sơn")
        for kind, day in (("application_letter", D(2020, 6, 1)), ("background_form", D(2020, 6, 5)),
                          ("background_verification", D(2020, 8, 1)), ("comments", D(2020, 8, 10))):
            models.Document.create(case=mai_case, kind=kind, received=day)
        models.Introducer.create(case=mai_case, kind="member", person=intro1, date=D(2020, 8, 15),
                                 together_since=D(2018, 1, 1))
        models.Introducer.create(case=mai_case, kind="youth_union", resolution="05-NQ/ĐTN",
                                 date=D(2020, 8, 15))
        models.Helper.create(case=mai_case, person=intro2, since=D(2020, 3, 1))

        # The person whose name looks like markup, with an open file, in the markup branch.
        lo = _person(MARKUP_NAME_RAW, markup, D(1999, 12, 31), "M", ethnicity="[i]Dao[/i]",
                     residence="Thôn [link=http://x]Lò[/link]")
        markup_case = _case(lo, markup, [("identified", D(2021, 3, 1), markup, {})])
        for i in range(6):
            person = _person(f"{_FAMILY[(i + 3) % 11]} Văn {_GIVEN[(i * 7) % 24]}", small,
                             D(1980 + i, 6, 1 + i), "M")
            _member(person, D(2005 + i, 3, 1))
        probationary_case = _probationary(small, town, district)
        for i in range(3):
            _person(f"Triệu Thị {_GIVEN[i + 10]}", vt1, D(1995 + i, 2, 2), "F")
        _person("Lý Văn Cũ", ended, D(1970, 1, 1), "M")
    return Sample(admin_login, province.id, district.id, town.id, big.id, small.id, markup.id,
                  ended.id, mai_case.id, markup_case.id, probationary_case.id)


def sample_context(location: str, login: str = "tester", lang: str = "vi"):
    from db.access import account_actor
    from tui.context import AppContext

    return AppContext(location=location, actor=account_actor(login), today=TODAY, lang=lang)


if __name__ == "__main__":  # pragma: no cover - a helper for trying the screens by hand
    import sys

    from db import connection

    connection.open_database(sys.argv[1])
    print(build_sample(sys.argv[2] if len(sys.argv) > 2 else "tester"))
    connection.close_database()
