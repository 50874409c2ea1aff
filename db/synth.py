"""A synthetic province for benchmarks (`ketnap synth --people N [--seed S]`).

An invented province ("Tỉnh ủy Tân Lĩnh") in the shape of the tree after 1/7/2025 (domain.md section 2): the
provincial committee, about one commune committee per 10,000 people directly under it, and in
each commune village, residential, agency and school branches of 25–40 people. Most people are
long-standing members (a Membership and no file); the others have candidate files at every stage
whose histories obey the rules of domain.md sections 3–5 (ages, certificates, two official
introducers with 12 months together, two-thirds votes of the branch's official members,
documents, deadlines in working days), with the awareness and new-member classes, enrolments and
certificates they went through, and the year's targets and the terms.

Everything is drawn from one generator seeded with `seed`, in a fixed order, with explicit ids:
the same seed gives the same rows. Rows are written with `executemany` in batches (not step by
step through db.pipeline), a few transactions of about fifty thousand people each; the FTS
index over people is filled by its triggers as the rows go in.

The database is marked synthetic (setting `synthetic` = "1") and its `today` is fixed
(`TODAY`), so that every figure is reproducible.
"""

from __future__ import annotations

import bisect
import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass

from peewee import BooleanField

from db import models
from db.access import ensure_admin
from db.calendar import WorkingDays, add_months
from db.connection import (after_bulk_insert, drop_cache_triggers, install_cache_triggers, is_postgres,
                           new_tree_version, set_setting, write_transaction)
from db.demo import _toml, _weighted
from db.text import fold, name_sort_key

Date = datetime.date

TODAY = Date(2026, 6, 30)
FOUNDED = Date(2015, 1, 1)  # the synthetic units exist in their present shape since then
CALENDAR_FROM, CALENDAR_TO = Date(2019, 1, 1), Date(2028, 12, 31)
PEOPLE_PER_COMMUNE = 10_000
MIN_PEOPLE = 100
FLUSH_PEOPLE = 50_000  # people per write transaction
PROVINCE = "Tân Lĩnh"  # invented
ORGANISER = f"Trường Chính trị tỉnh {PROVINCE}"

# Files per hundred people of a branch, and the stages they are at on TODAY (weights).
FILES_PER_HUNDRED = 20
STAGE_WEIGHTS = {
    "identified": 10, "in_class": 6, "certified": 8, "dossier": 8, "branch_approved": 4,
    "committee_approved": 4, "admitted": 4, "probationary": 14, "official": 20, "withdrawn": 4,
}
ETHNIC_MIX = {"Kinh": 50, "Tày": 20, "Nùng": 12, "Dao": 10, "Mông": 8}
CATEGORY_WEIGHTS = {"village": 62, "residential": 18, "agency": 12, "school": 8}
RECOMMENDED_BY = ("Đoàn Thanh niên", "Hội Liên hiệp Phụ nữ", "Hội Nông dân", "Công đoàn cơ sở")

_SYLLABLES = ("An", "Bình", "Cao", "Đồng", "Hòa", "Khánh", "Lạc", "Long", "Minh", "Mỹ", "Nam",
              "Phú", "Phúc", "Quang", "Sơn", "Tân", "Thạch", "Thanh", "Thịnh", "Thượng", "Tiến",
              "Trung", "Vân", "Vĩnh", "Xuân", "Yên", "Hưng", "Lâm", "Hải", "Kim")
_VILLAGE_WORDS = ("Nà", "Bản", "Khuổi", "Pác", "Phiêng", "Cốc", "Lũng", "Đông", "Tây", "Thượng",
                  "Hạ", "Trung", "Tân", "Làng", "Xóm")


class SynthError(Exception):
    """The synthetic data cannot be loaded: `code` is `not_empty` or `bad_value`."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class SynthSummary:
    units: int
    communes: int
    branches: int
    people: int
    members: int  # Membership rows (probationary or official on TODAY)
    cases: int
    steps: int
    classes: int
    today: Date


# --- working days, as a table ---------------------------------------------------------------

class _Days:
    """Working-day arithmetic on ordinals, from a table drawn once from one WorkingDays."""

    def __init__(self, calendar: WorkingDays):
        self.base = CALENDAR_FROM.toordinal()
        last = CALENDAR_TO.toordinal()
        self.work: list[int] = []
        self.left: list[int] = []  # working days strictly before the day
        self.right: list[int] = []  # working days on or before the day
        for o in range(self.base, last + 1):
            self.left.append(len(self.work))
            if calendar.is_working_day(Date.fromordinal(o)):
                self.work.append(o)
            self.right.append(len(self.work))
        self.iso = [Date.fromordinal(o).isoformat() for o in range(self.base, last + 1)]

    def add(self, o: int, n: int) -> int:
        """As WorkingDays.add: the n-th working day after (n < 0: before) the day."""
        if n > 0:
            return self.work[self.right[o - self.base] + n - 1]
        if n < 0:
            return self.work[self.left[o - self.base] + n]
        return o

    def pick(self, rng: random.Random, lo: int, hi: int) -> int:
        """A random working day in [lo, hi] (lo when there is none)."""
        a, b = self.left[lo - self.base], self.right[hi - self.base] - 1
        return self.work[rng.randint(a, b)] if b >= a else lo

    def text(self, o: int) -> str:
        return self.iso[o - self.base]


def _iso(o: int) -> str:
    return Date.fromordinal(o).isoformat()


# --- the columns written, per model -----------------------------------------------------------

COLUMNS = {
    models.Unit: ("id", "code", "name", "name_folded", "level", "org_type", "category", "parent",
                  "founded", "population", "mountain", "decides_admissions", "sort_order"),
    models.UnitLink: ("id", "unit", "parent", "start"),
    models.Term: ("id", "name", "start", "end"),
    models.Target: ("id", "unit", "year", "term", "value", "set_on", "set_by"),
    models.TrainingClass: ("id", "kind", "name", "organiser", "unit", "year", "planned_start", "start",
                           "end", "place", "capacity", "status"),
    models.ClassPlan: ("id", "unit", "year", "kind", "classes", "trainees"),
    models.Person: ("id", "full_name", "name_folded", "sort_key", "sex", "born", "ethnicity", "home_town",
                    "residence", "citizen_id", "phone", "education", "occupation", "workplace",
                    "youth_union", "trade_union", "branch", "created_at", "version"),
    models.Affiliation: ("id", "person", "unit", "start"),
    models.CaseFile: ("id", "person", "branch", "stage", "status", "on_hold", "outcome", "closed_on",
                      "close_reason", "recommended_by", "readmission", "legacy", "opened_at", "version"),
    models.Membership: ("id", "person", "case", "admitted_on", "ceremony_on", "official_on", "card_number",
                        "record_number"),
    models.Step: ("id", "case", "seq", "stage", "date", "unit", "received", "extension", "details",
                  "entered_by", "entered_at"),
    models.Resolution: ("id", "step", "kind", "number", "date", "votes_for", "votes_convened",
                        "votes_excused"),
    models.CaseEvent: ("id", "case", "kind", "date", "reason", "details", "entered_by", "entered_at"),
    models.Document: ("id", "case", "kind", "received"),
    models.Introducer: ("id", "case", "kind", "person", "date", "together_since", "replacement"),
    models.Helper: ("id", "case", "person", "since"),
    models.Certificate: ("id", "person", "kind", "number", "issued", "issuer", "training_class"),
    models.Enrolment: ("id", "training_class", "person", "case", "enrolled_on", "result", "certificate"),
}
ORDER = list(COLUMNS)  # parents before children


def _insert(model, rows: list[tuple], batch: int = 5000) -> None:
    if not rows:
        return
    meta = model._meta
    columns = ", ".join(f'"{meta.fields[name].column_name}"' for name in COLUMNS[model])
    marks = ", ".join([models.database.param] * len(COLUMNS[model]))
    sql = f'INSERT INTO "{meta.table_name}" ({columns}) VALUES ({marks})'
    flags = [i for i, name in enumerate(COLUMNS[model]) if isinstance(meta.fields[name], BooleanField)]
    if flags and is_postgres():  # the rows hold 0/1, which PostgreSQL does not take for a boolean
        rows = [tuple(bool(v) if i in flags and v is not None else v for i, v in enumerate(row)) for row in rows]
    cursor = models.database.cursor()
    for i in range(0, len(rows), batch):
        cursor.executemany(sql, rows[i:i + batch])


# --- the builder ------------------------------------------------------------------------------

@dataclass(eq=False)
class _Class:
    id: int
    kind: str
    start: int
    end: int


class _Builder:
    def __init__(self, people: int, seed: int, admin_id: int):
        self.rng = random.Random(seed)
        self.admin = admin_id
        self.days = _Days(WorkingDays())
        self.today = TODAY.toordinal()
        self.rows: dict = {m: [] for m in ORDER}
        self.ids: dict = {m: 0 for m in ORDER}
        self.names = {}
        for people_name, lists in _toml("names.toml").items():
            entry = {}
            for key in ("family", "middle_m", "middle_f"):
                names, weights = _weighted(lists[key])
                cum, acc = [], 0.0
                for w in weights:
                    acc += w
                    cum.append(acc)
                entry[key] = (names, cum)
            entry["given_m"] = [n.partition(":")[0] for n in lists["given_m"]]
            entry["given_f"] = [n.partition(":")[0] for n in lists["given_f"]]
            self.names[people_name] = entry
        self.ethnic = list(ETHNIC_MIX)
        self.ethnic_cum = _cumulative(ETHNIC_MIX.values())
        self.folded: dict[str, tuple[str, str]] = {}
        self.citizen_serial: dict[tuple[int, int], int] = {}
        self.phone_serial = 0
        self.card_serial = 0
        self.cert_serial = {"awareness": 0, "new_member": 0}
        self.units = 0
        self.communes = 0
        self.branches = 0
        self.target_2026 = 0
        self.stage_names = list(STAGE_WEIGHTS)
        self.stage_cum = _cumulative(STAGE_WEIGHTS.values())
        self.category_names = list(CATEGORY_WEIGHTS)
        self.category_cum = _cumulative(CATEGORY_WEIGHTS.values())

    def next_id(self, model) -> int:
        self.ids[model] += 1
        return self.ids[model]

    def add(self, model, row: tuple) -> None:
        self.rows[model].append(row)

    # -- the fixed parts --

    def province(self, communes: int) -> None:
        rng = self.rng
        self.province_id = self.next_id(models.Unit)
        name = f"Tỉnh ủy {PROVINCE}"
        self.add(models.Unit, (self.province_id, "S", name, fold(name), "province", "committee", None, None,
                               FOUNDED.isoformat(), None, 0, None, 0))
        self.add(models.UnitLink, (self.next_id(models.UnitLink), self.province_id, None, FOUNDED.isoformat()))
        self.terms = {}
        for name, start, end in (("2020–2025", "2020-10-01", "2025-09-30"),
                                 ("2025–2030", "2025-10-01", "2030-09-30")):
            tid = self.next_id(models.Term)
            self.terms[name] = tid
            self.add(models.Term, (tid, name, start, end))
        combos = [f"{a} {b}" for a in _SYLLABLES for b in _SYLLABLES if a != b]
        rng.shuffle(combos)
        while len(combos) < communes:
            combos += [f"{c} {len(combos) // len(_SYLLABLES)}" for c in combos[:len(_SYLLABLES)]]
        self.commune_names = combos[:communes]

    # -- people --

    def _name(self, ethnic: str, sex: str) -> str:
        rng = self.rng
        lists = self.names[ethnic]
        family, cum = lists["family"]
        middle, mcum = lists["middle_m" if sex == "M" else "middle_f"]
        given = lists["given_m" if sex == "M" else "given_f"]
        return (f"{rng.choices(family, cum_weights=cum)[0]} {rng.choices(middle, cum_weights=mcum)[0]} "
                f"{rng.choice(given)}")

    def person(self, branch: dict, born: int, sex: str, *, candidate: bool, created: str) -> int:
        rng = self.rng
        pid = self.next_id(models.Person)
        ethnic = self.ethnic[bisect.bisect(self.ethnic_cum, rng.random() * self.ethnic_cum[-1])]
        full_name = self._name(ethnic, sex)
        keys = self.folded.get(full_name)
        if keys is None:
            keys = self.folded[full_name] = (fold(full_name), name_sort_key(full_name))
        born_date = Date.fromordinal(born)
        century = (0 if born_date.year < 2000 else 2) + (1 if sex == "F" else 0)
        bucket = (century, born_date.year % 100)
        serial = self.citizen_serial.get(bucket, 0) + 1
        self.citizen_serial[bucket] = serial
        citizen_id = f"000{century}{bucket[1]:02d}{serial:06d}"  # province code 000 does not exist
        phone = None
        if rng.random() < 0.35:
            self.phone_serial += 1
            phone = f"0900{self.phone_serial:06d}"
        category = branch["category"]
        if category in ("village", "residential"):
            education = rng.choice(("12/12", "12/12", "9/12")) if candidate else \
                rng.choice(("12/12", "9/12", "9/12", "7/10"))
            occupation = rng.choice(("Nông dân", "Nông dân", "Kinh doanh", "Lao động tự do", "Công nhân"))
            workplace = None
        else:
            education = "12/12"
            occupation = "Giáo viên" if category == "school" else "Công chức"
            workplace = branch["workplace"]
        age = (self.today - born) // 365
        youth = candidate and age <= 30 and rng.random() < 0.8
        self.add(models.Person, (
            pid, full_name, keys[0], keys[1], sex, self.days.text(born) if born >= self.days.base else _iso(born),
            ethnic, branch["home"], branch["residence"], citizen_id, phone, education, occupation, workplace,
            int(youth), int(category in ("agency", "school")), branch["id"], created, 1))
        return pid

    # -- classes --

    def classes(self, commune: dict, offset: int) -> None:
        days = self.days
        cid = commune["id"]
        aw: list[_Class] = []
        nm: list[_Class] = []
        place = f"Hội trường {commune['short']}"
        for year in range(2021, 2027):
            seq = {"awareness": 0, "new_member": 0}
            for month in range(1, 13):
                kinds = []
                if month != 2:
                    kinds.append(("awareness", 8, 4))
                if month in (3, 6, 9, 12):
                    kinds.append(("new_member", 20, 6))
                for kind, day, length in kinds:
                    start = days.add(Date(year, month, day + offset).toordinal(), 1)
                    end = days.add(start, length)
                    seq[kind] += 1
                    klass = _Class(self.next_id(models.TrainingClass), kind, start, end)
                    (aw if kind == "awareness" else nm).append(klass)
                    what = ("Lớp bồi dưỡng nhận thức về Đảng" if kind == "awareness"
                            else "Lớp bồi dưỡng lý luận chính trị cho đảng viên mới")
                    status = ("finished" if end < self.today else "running" if start <= self.today
                              else "planned")
                    started = start <= self.today
                    self.add(models.TrainingClass, (
                        klass.id, kind, f"{what}, khóa {seq[kind]} năm {year}", ORGANISER, cid, year,
                        days.text(start), days.text(start) if started else None,
                        days.text(end) if started else None, place, 60, status))
            for kind in ("awareness", "new_member"):
                self.add(models.ClassPlan, (self.next_id(models.ClassPlan), cid, year, kind, seq[kind],
                                            None))
        commune["aw"] = aw
        commune["aw_end"] = [c.end for c in aw]
        commune["aw_start"] = [c.start for c in aw]
        commune["nm"] = nm
        commune["nm_start"] = [c.start for c in nm]

    # -- a commune --

    def commune(self, number: int, people: int) -> None:
        rng = self.rng
        self.communes += 1
        uid = self.next_id(models.Unit)
        short = f"xã {self.commune_names[number - 1]}"
        name = f"Đảng ủy {short}"
        code = f"S-{number:03d}"
        commune = {"id": uid, "short": short, "committee": rng.randint(11, 19), "decisions": 0,
                   "admitted_2026": 0}
        self.add(models.Unit, (uid, code, name, fold(name), "commune", "grassroots_committee", None,
                               self.province_id, FOUNDED.isoformat(), people * rng.randint(7, 10), 0, None,
                               number))
        self.add(models.UnitLink, (self.next_id(models.UnitLink), uid, self.province_id, FOUNDED.isoformat()))
        self.classes(commune, number % 7)
        count = max(1, round(people / 32))
        sizes = [people // count] * count
        for i in range(people - sum(sizes)):
            sizes[i] += 1
        for i in range(0, count - 1, 2):
            delta = rng.randint(-6, 6)
            if 1 <= sizes[i] + delta and 1 <= sizes[i + 1] - delta:
                sizes[i] += delta
                sizes[i + 1] -= delta
        suffix = f"{short}, tỉnh {PROVINCE}"
        for index, size in enumerate(sizes, 1):
            if index == 1:
                category = "agency"
            elif index == 2 and count > 2:
                category = "school"
            else:
                category = self.category_names[bisect.bisect(self.category_cum,
                                                             rng.random() * self.category_cum[-1])]
            if category == "agency":
                label = f"Cơ quan Đảng – Ủy ban {short}" if index == 1 else f"Cơ quan {index}"
                workplace = f"Ủy ban nhân dân {short}"
            elif category == "school":
                label = f"Trường {rng.choice(('Tiểu học', 'THCS', 'Mầm non'))} {index}"
                workplace = f"{label} {short}"
            elif category == "residential":
                label = f"Tổ dân phố số {index}"
                workplace = None
            else:
                label = f"Thôn {rng.choice(_VILLAGE_WORDS)} {rng.choice(_SYLLABLES)} {index}"
                workplace = None
            bid = self.next_id(models.Unit)
            bname = f"Chi bộ {label}"
            self.add(models.Unit, (bid, f"{code}-{index:03d}", bname, fold(bname), None, "branch", category,
                                   uid, FOUNDED.isoformat(), None, 0, uid, index))
            self.add(models.UnitLink, (self.next_id(models.UnitLink), bid, uid, FOUNDED.isoformat()))
            place = label if category in ("village", "residential") else f"Thôn {rng.choice(_SYLLABLES)}"
            branch = {"id": bid, "category": category, "workplace": workplace,
                      "residence": f"{place}, {suffix}", "home": suffix, "resolutions": 0}
            self.branch(commune, branch, size)
        self.branches += count
        target = max(1, round(commune["admitted_2026"] * 1.3))
        self.target_2026 += target
        self.add(models.Target, (self.next_id(models.Target), uid, 2026, None, target, "2026-01-15", self.admin))

    def branch(self, commune: dict, branch: dict, size: int) -> None:
        rng, today = self.rng, self.today
        files = min(size - 3, max(1, round(size * FILES_PER_HUNDRED / 100))) if size > 3 else 0
        legacy = []  # (person id, affiliation start)
        for _ in range(size - files):
            legacy.append(self.legacy_member(branch))
        specs = []
        for _ in range(files):
            stage = self.stage_names[bisect.bisect(self.stage_cum, rng.random() * self.stage_cum[-1])]
            specs.append((stage, self.dates(commune, stage)))
        # official members over time: the long-standing ones, plus files recognised
        officials = sorted(d["official_on"] for _s, d in specs if d.get("drec", today + 1) <= today)
        base = len(legacy)

        def convened(day: int) -> int:
            return base + bisect.bisect_right(officials, day)

        for stage, d in specs:
            self.write_file(commune, branch, stage, d, legacy, convened)

    def legacy_member(self, branch: dict) -> tuple[int, int]:
        rng = self.rng
        born = Date(rng.randint(1950, 1998), rng.randint(1, 12), rng.randint(1, 28))
        earliest = add_months(born, 12 * 18 + 1).toordinal()
        latest = min(add_months(born, 12 * 45).toordinal(), Date(2020, 6, 30).toordinal())
        ceremony = rng.randint(earliest, max(earliest, latest))
        admitted = ceremony - rng.randint(10, 40)
        official = add_months(Date.fromordinal(ceremony), 12).isoformat()
        start = max(ceremony, FOUNDED.toordinal())
        if rng.random() < 0.15:
            start = rng.randint(start, max(start, Date(2021, 6, 30).toordinal()))
        sex = "M" if rng.random() < 0.6 else "F"
        pid = self.person(branch, born.toordinal(), sex, candidate=False, created="2025-07-01 08:00:00")
        self.add(models.Affiliation, (self.next_id(models.Affiliation), pid, branch["id"], _iso(start)))
        self.card_serial += 1
        self.add(models.Membership, (self.next_id(models.Membership), pid, None, _iso(admitted), _iso(ceremony),
                                     official, f"9{self.card_serial:08d}", f"LL-{self.card_serial:08d}"))
        return pid, start

    # -- a file's dates (ordinals) --

    def dates(self, commune: dict, stage: str) -> dict:
        rng, days, today = self.rng, self.days, self.today
        add, pick = days.add, days.pick
        d: dict = {}
        aw, aw_end, aw_start = commune["aw"], commune["aw_end"], commune["aw_start"]

        def before_class(klass: _Class) -> None:
            d["class"] = klass
            d["enrol"] = pick(rng, klass.start - 30, klass.start - 3)
            d["identified"] = pick(rng, d["enrol"] - 200, d["enrol"] - 21)

        if stage == "identified":
            d["identified"] = pick(rng, today - 150, today)
            return d
        if stage == "in_class":
            klass = aw[bisect.bisect_right(aw_start, today)]  # the next class to start
            d["class"] = klass
            d["enrol"] = pick(rng, max(klass.start - 30, today - 20), today)
            d["identified"] = pick(rng, d["enrol"] - 200, d["enrol"] - 21)
            return d
        if stage in ("certified", "withdrawn"):
            last = bisect.bisect_right(aw_end, today) - 1
            klass = aw[last - rng.randint(0, 8)]
            before_class(klass)
            d["cert"] = klass.end
            if stage == "withdrawn":
                d["closed"] = pick(rng, klass.end + 1, today) if klass.end < today else today
            return d
        if stage == "dossier":
            d["dossier"] = add(today, -rng.randint(0, 24))
        elif stage == "branch_approved":
            d["db"] = add(today, -rng.randint(0, rng.randint(2, 10) - 1))
        elif stage == "committee_approved":
            d["dc"] = add(today, -rng.randint(0, rng.randint(5, 30) - 1))
        elif stage == "admitted":
            d["dec"] = add(today, -rng.randint(0, rng.randint(5, 25) - 1))
            d["received"] = min(add(d["dec"], rng.randint(0, 3)), today)
        else:  # probationary, official
            if stage == "probationary":
                d["ceremony"] = pick(rng, today - 355, today)
            else:
                d["ceremony"] = pick(rng, today - 1100, today - 430)
            d["received"] = add(d["ceremony"], -rng.randint(5, 25))
            d["dec"] = add(d["received"], -rng.randint(0, 3))
        if "dec" in d:
            d["dc"] = add(d["dec"], -rng.randint(5, 30))
        if "dc" in d:
            d["db"] = add(d["dc"], -rng.randint(2, 10))
        if "db" in d:
            d["dossier"] = add(d["db"], -rng.randint(25, 45))
        dossier = d["dossier"]
        d["application_letter"] = dossier
        d["background_form"] = add(dossier, rng.randint(0, 5))
        d["background_verification"] = add(dossier, rng.randint(8, 20))
        d["comments"] = add(dossier, rng.randint(5, 20))
        d["intro"] = add(dossier, rng.randint(0, 15))
        last = bisect.bisect_right(aw_end, dossier - 7) - 1
        klass = aw[last - rng.choice((0, 0, 0, 1, 1, 2))]
        before_class(klass)
        d["cert"] = klass.end
        if "ceremony" in d:
            ceremony = d["ceremony"]
            d["member_records"] = add(ceremony, rng.randint(3, 20))
            nm = commune["nm"]
            i = bisect.bisect_left(commune["nm_start"], ceremony + 10)
            if i < len(nm) and nm[i].end <= today:
                d["nm"] = nm[i]
                d["new_member_certificate"] = nm[i].end
            d["official_on"] = add_months(Date.fromordinal(ceremony), 12).toordinal()
            d["dbr"] = add(d["official_on"], rng.randint(1, 20))
            d["dcr"] = add(d["dbr"], rng.randint(2, 8))
            d["drec"] = add(d["dcr"], rng.randint(2, 10))
            d["self_review"] = add(d["dbr"], -rng.randint(2, 8))
            d["helper_comments"] = add(d["dbr"], -rng.randint(2, 8))
        return d

    # -- a file's rows --

    def vote(self, convened: int) -> tuple[int, int, int]:
        rng = self.rng
        excused = 1 if convened >= 8 and rng.random() < 0.3 else 0
        base = convened - excused
        least = (2 * base + 2) // 3
        return max(least, base - rng.choice((0, 0, 0, 1, 1, 2))), convened, excused

    def write_file(self, commune: dict, branch: dict, stage: str, d: dict, legacy: list, convened) -> None:
        rng, days, today = self.rng, self.days, self.today
        text = days.text
        cid = self.next_id(models.CaseFile)
        bid, uid = branch["id"], commune["id"]
        identified = d["identified"]
        born = identified - rng.randint(6760, 14600)  # 18.5 to 40 years old
        sex = "F" if rng.random() < 0.45 else "M"
        pid = self.person(branch, born, sex, candidate=True, created=f"{text(identified)} 08:00:00")
        cand_start = max(identified - rng.randint(400, 3000), FOUNDED.toordinal())
        self.add(models.Affiliation, (self.next_id(models.Affiliation), pid, bid, _iso(cand_start)))
        recommended = rng.choice(RECOMMENDED_BY)
        steps: list[tuple] = []

        def step(stage_name: str, day: int, unit: int, received=None, details=None) -> int:
            sid = self.next_id(models.Step)
            steps.append((sid, cid, len(steps) + 1, stage_name, text(day), unit,
                          text(received) if received else None, 0, details, self.admin,
                          f"{text(day)} 16:00:00"))
            return sid

        def resolution(sid: int, kind: str, number: str, day: int, votes=(None, None, None)) -> None:
            self.add(models.Resolution, (self.next_id(models.Resolution), sid, kind, number, text(day), *votes))

        def branch_number(day: int) -> str:
            branch["resolutions"] += 1
            return f"{branch['resolutions']:02d}-NQ/CB"

        def commune_number(kind: str) -> str:
            commune["decisions"] += 1
            return f"{commune['decisions']}-{kind}/ĐU"

        helper = rng.choice(legacy)[0]
        step("identified", identified, bid, details=f'{{"recommended_by": "{recommended}"}}')
        klass = d.get("class")
        cert_id = None
        if klass is not None and d["enrol"] <= today:
            step("in_class", d["enrol"], bid, details=f'{{"class_id": {klass.id}}}')
            if d.get("cert", today + 1) <= today:
                cert_id = self.certificate(pid, klass)
                step("certified", d["cert"], bid, details=f'{{"certificate_id": {cert_id}}}')
            self.add(models.Enrolment, (self.next_id(models.Enrolment), klass.id, pid, cid, text(d["enrol"]),
                                        "passed" if cert_id else None, cert_id))
        if "dossier" in d:
            step("dossier", d["dossier"], bid)
            for kind in ("application_letter", "background_form", "background_verification", "comments",
                         "member_records", "new_member_certificate"):
                day = d.get(kind)
                if day is not None and day <= today:
                    self.add(models.Document, (self.next_id(models.Document), cid, kind, text(day)))
            if d["intro"] <= today:
                first, second = rng.sample(legacy, 2)
                for member, start in (first, second):
                    self.add(models.Introducer, (self.next_id(models.Introducer), cid, "member", member,
                                                 text(d["intro"]), _iso(max(start, cand_start)), 0))
        if d.get("db", today + 1) <= today:
            sid = step("branch_approved", d["db"], bid)
            resolution(sid, "branch_resolution", branch_number(d["db"]), d["db"], self.vote(convened(d["db"])))
        if d.get("dc", today + 1) <= today:
            sid = step("committee_approved", d["dc"], uid)
            resolution(sid, "committee_resolution", commune_number("NQ"), d["dc"], self.vote(commune["committee"]))
        if d.get("dec", today + 1) <= today:
            sid = step("admitted", d["dec"], uid, received=d["received"])
            resolution(sid, "decision", commune_number("QĐ"), d["dec"])
            if d["dec"] >= Date(2026, 1, 1).toordinal():
                commune["admitted_2026"] += 1
        if d.get("ceremony", today + 1) <= today:
            step("probationary", d["ceremony"], bid, details=f'{{"helper_person_id": {helper}}}')
            recognised = d["drec"] <= today
            self.card_serial += 1
            self.add(models.Membership, (self.next_id(models.Membership), pid, cid, text(d["dec"]),
                                         text(d["ceremony"]), text(d["official_on"]) if recognised else None,
                                         f"9{self.card_serial:08d}", f"LL-{self.card_serial:08d}"))
            nm = d.get("nm")
            if nm is not None:
                nm_cert = self.certificate(pid, nm)
                self.add(models.Enrolment, (self.next_id(models.Enrolment), nm.id, pid, cid,
                                            text(days.add(nm.start, -3)), "passed", nm_cert))
            if recognised:
                sid = step("official", d["drec"], uid, details=f'{{"official_on": "{text(d["official_on"])}"}}')
                resolution(sid, "branch_resolution", branch_number(d["dbr"]), d["dbr"], self.vote(convened(d["dbr"])))
                resolution(sid, "committee_resolution", commune_number("NQ"), d["dcr"],
                           self.vote(commune["committee"]))
                resolution(sid, "decision", commune_number("QĐ"), d["drec"])
                for kind in ("self_review", "helper_comments"):
                    self.add(models.Document, (self.next_id(models.Document), cid, kind, text(d[kind])))
        self.rows[models.Step].extend(steps)
        self.add(models.Helper, (self.next_id(models.Helper), cid, helper, text(identified)))
        current = steps[-1][3]
        closed = d.get("closed")
        self.add(models.CaseFile, (
            cid, pid, bid, current, "closed" if closed else "open", 0, "withdrawn" if closed else None,
            text(closed) if closed else None, "Xin rút khỏi danh sách nguồn" if closed else None, recommended,
            0, 0, f"{text(identified)} 08:00:00", len(steps)))
        if closed:
            self.add(models.CaseEvent, (self.next_id(models.CaseEvent), cid, "close", text(closed),
                                        "Xin rút khỏi danh sách nguồn", '{"outcome": "withdrawn"}', self.admin,
                                        f"{text(closed)} 10:00:00"))

    def certificate(self, pid: int, klass: _Class) -> int:
        self.cert_serial[klass.kind] += 1
        cert_id = self.next_id(models.Certificate)
        year = Date.fromordinal(klass.end).year
        self.add(models.Certificate, (cert_id, pid, klass.kind, f"{self.cert_serial[klass.kind]:07d}/{year}",
                                      self.days.text(klass.end), ORGANISER, klass.id))
        return cert_id

    # -- writing --

    def flush(self) -> None:
        """Write the rows built so far in one transaction. The triggers that keep the stored
        figures are lifted for it and put back before it commits: the new files are marked
        stale in one statement (write_transaction then computes them), the tree's token
        changed; no member counts are kept yet in a database being filled."""
        database = models.database.obj
        with write_transaction():
            drop_cache_triggers(database)
            for model in ORDER:
                _insert(model, self.rows[model])
                self.rows[model] = []
            database.execute_sql("INSERT INTO case_due (case_id, stale) SELECT id, TRUE FROM case_file "
                                 "WHERE id > (SELECT coalesce(max(case_id), 0) FROM case_due) "
                                 "ON CONFLICT DO NOTHING")
            after_bulk_insert(database)
            models.MemberTally.delete().execute()
            models.ClassTally.delete().execute()
            new_tree_version(database)
            install_cache_triggers(database)


def _cumulative(weights) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def is_empty() -> bool:
    """No units and no people: the only database synthesize fills."""
    return not (models.Unit.select().exists() or models.Person.select().exists())


def synthesize(login: str, people: int, seed: int = 1,
               progress: Callable[[int, int], None] | None = None) -> SynthSummary:
    """Fill the bound (opened, migrated, empty) database with a synthetic province of about
    `people` people; `progress(done, total)` is called as people are written.

    Refuses a database holding units or people (`SynthError("not_empty")`) and fewer than
    MIN_PEOPLE people (`SynthError("bad_value")`). Creates the admin account for `login`.
    """
    if people < MIN_PEOPLE:
        raise SynthError("bad_value", minimum=MIN_PEOPLE, people=people)
    with write_transaction():
        if not is_empty():
            raise SynthError("not_empty")
        actor, _created = ensure_admin(login)
    builder = _Builder(people, seed, actor.account_id)
    communes = max(3, round(people / PEOPLE_PER_COMMUNE))
    builder.province(communes)
    shares = [people // communes] * communes
    for i in range(people - sum(shares)):
        shares[i] += 1
    report = progress or (lambda done, total: None)
    report(0, people)
    done = pending = 0
    for number, share in enumerate(shares, 1):
        builder.commune(number, share)
        pending += share
        if number == 1:
            with write_transaction():  # nobody filled it in the meantime
                if not is_empty():
                    raise SynthError("not_empty")
                builder.flush()
        elif pending >= FLUSH_PEOPLE or number == communes:
            builder.flush()
        else:
            continue
        done += pending
        pending = 0
        report(done, people)
    with write_transaction():
        province_target = max(1, round(builder.target_2026))
        builder.add(models.Target, (builder.next_id(models.Target), builder.province_id, 2026, None,
                                    province_target, "2026-01-10", actor.account_id))
        builder.add(models.Target, (builder.next_id(models.Target), builder.province_id, None,
                                    builder.terms["2025–2030"], province_target, "2025-10-15", actor.account_id))
        builder.flush()
        set_setting("synthetic", "1")
        set_setting("today", TODAY.isoformat())
    return SynthSummary(
        units=builder.ids[models.Unit], communes=communes, branches=builder.branches,
        people=builder.ids[models.Person], members=builder.ids[models.Membership],
        cases=builder.ids[models.CaseFile], steps=builder.ids[models.Step],
        classes=builder.ids[models.TrainingClass], today=TODAY)
