"""The Ngân Sơn demo data set (`ketnap demo`).

Ngân Sơn district (Bắc Kạn province) from 2015 to 30/09/2021, built from the reviewable files in
fixtures/demo so that the article's figures (domain.md section 6) come out of the data, and every
candidate file obeys the rules of domain.md sections 3–5. Everything is drawn from one seeded
random generator, so every load gives the same rows with the same ids.

How it is built:

1. the unit tree (units.csv) with its parent history, and the reorganisations (changes.toml);
2. the members of 2015 (admitted before the data starts: a Membership and no file), some of
   whom die or move away later; everyone follows the reorganisations of their branch;
3. the candidate files: admissions per grassroots organisation and period (admissions.csv) and
   the files of 2021 (pipeline_2021.csv). Each file's dates are drawn first (decision, votes,
   dossier, class, ...), then it is placed in a branch of its organisation that can support it
   (enough official members who have been there 12 months to introduce the candidate);
4. long-standing members are added to units that never changed until the member counts of
   demo.toml hold exactly;
5. introducers, helpers and vote counts are drawn from the final membership history, then
   numbers are given to resolutions, decisions, certificates and cards in date order.

The loader writes in one transaction with bulk inserts and takes a few seconds.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import random
import tomllib
import dataclasses
from dataclasses import dataclass, field
from importlib import resources

from peewee import SqliteDatabase, sort_models

from db import audit, models
from db.access import ensure_admin
from db.connection import after_bulk_insert, drop_append_only, install_append_only
from db.calendar import WorkingDays, add_months, full_months_between
from db.connection import set_setting
from db.text import clean, fold, name_sort_key
from db.worklist import refresh_due

Date = datetime.date
DAY = datetime.timedelta(days=1)
BRANCH_TYPES = ("branch", "grassroots_branch")
BATCH = 2000


class DemoError(Exception):
    """The demo cannot be loaded: `code` is `not_empty` (the database already holds data)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class DemoSummary:
    units: int
    people: int
    members: int  # members (probationary or official) on the demo's today
    cases: int
    classes: int
    accounts: int


# --- reading the fixtures -------------------------------------------------------------------

def _fixture_text(name: str) -> str:
    return (resources.files("fixtures") / "demo" / name).read_text(encoding="utf-8")


def _toml(name: str) -> dict:
    return tomllib.loads(_fixture_text(name))


def _csv(name: str) -> list[dict]:
    lines = [line for line in _fixture_text(name).splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def _weighted(items: list[str]) -> tuple[list[str], list[float]]:
    names, weights = [], []
    for item in items:
        name, _, weight = item.partition(":")
        names.append(clean(name))
        weights.append(float(weight) if weight else 1.0)
    return names, weights


# --- in-memory records --------------------------------------------------------------------

@dataclass(eq=False)
class UnitRec:
    id: int
    code: str
    name: str
    level: str | None
    org_type: str
    category: str | None
    parent: "UnitRec | None"
    founded: Date
    ended: Date | None
    population: int | None
    base_members: int
    committee_size: int | None
    mix: str | None
    sort_order: int
    successors: list["UnitRec"] = field(default_factory=list)  # where members go when it ends
    change_kind: str | None = None

    def alive(self, day: Date) -> bool:
        return self.founded <= day and (self.ended is None or self.ended > day)

    @property
    def is_branch(self) -> bool:
        return self.org_type in BRANCH_TYPES

    def grassroots(self) -> "UnitRec":
        unit = self
        while unit.org_type not in ("grassroots_committee", "grassroots_branch"):
            unit = unit.parent
        return unit

    def commune(self) -> "UnitRec | None":
        unit = self
        while unit is not None and unit.level != "commune":
            unit = unit.parent
        return unit


@dataclass(eq=False)
class MemberRec:
    admitted_on: Date
    ceremony_on: Date
    official_on: Date | None
    ended_on: Date | None = None
    end_reason: str | None = None
    case_id: int | None = None
    card_number: str | None = None
    record_number: str | None = None


@dataclass(eq=False)
class PersonRec:
    id: int
    full_name: str
    sex: str | None
    born: Date | None
    ethnicity: str | None
    citizen_id: str | None
    phone: str | None
    education: str | None
    qualification: str | None
    theory_level: str | None
    occupation: str | None
    workplace: str | None
    home_town: str | None
    residence: str | None
    youth_union: bool
    trade_union: bool
    public_role: str | None
    created: Date
    affs: list[list] = field(default_factory=list)  # [unit, start, end]
    member: MemberRec | None = None

    def is_member(self, day: Date) -> bool:
        m = self.member
        return m is not None and m.ceremony_on <= day and (m.ended_on is None or m.ended_on > day)

    def is_official(self, day: Date) -> bool:
        return self.is_member(day) and self.member.official_on is not None and self.member.official_on <= day

    def aff_at(self, day: Date):
        for aff in self.affs:
            if aff[1] <= day and (aff[2] is None or aff[2] > day):
                return aff
        return None


@dataclass(eq=False)
class ClassRec:
    id: int
    key: str
    kind: str
    year: int
    seq: int
    planned_start: Date
    start: Date | None
    end: Date | None
    place: str
    capacity: int
    enrolments: list = field(default_factory=list)

    @property
    def name(self) -> str:
        what = ("Lớp bồi dưỡng nhận thức về Đảng" if self.kind == "awareness"
                else "Lớp bồi dưỡng lý luận chính trị cho đảng viên mới")
        return f"{what}, khóa {self.seq} năm {self.year}"


@dataclass(eq=False)
class FileRec:
    id: int
    org: UnitRec
    committee: bool
    target: str  # admitted (decision in its period) or the stage on today
    plan_class: str  # "auto" / "earlier" / "" / a 2021 class key
    closed: str | None = None
    close_reason: str | None = None
    period: tuple[Date, Date] | None = None
    d: dict = field(default_factory=dict)  # the file's dates
    cls: ClassRec | None = None
    result: str | None = None  # passed / failed / left / None (running)
    branch: UnitRec | None = None
    person: PersonRec | None = None
    youth_path: bool = False
    trade_path: bool = False
    flags: dict = field(default_factory=dict)


# --- the builder --------------------------------------------------------------------------

class _MemoWorkingDays(WorkingDays):
    """The same working days, remembered: the builder asks about the same days many times."""

    def __init__(self):
        super().__init__()
        self._memo: dict[Date, bool] = {}

    def is_working_day(self, day: Date) -> bool:
        known = self._memo.get(day)
        if known is None:
            known = self._memo[day] = super().is_working_day(day)
        return known


class Builder:
    def __init__(self, calendar: WorkingDays):
        self.cfg = _toml("demo.toml")
        self.rng = random.Random(self.cfg["seed"])
        self.today: Date = self.cfg["today"]
        self.start: Date = self.cfg["data_start"]
        self.wd = calendar
        self.names = _toml("names.toml")
        self._name_lists = {
            people: {key: _weighted(values) for key, values in lists.items()}
            for people, lists in self.names.items()}
        self.units: list[UnitRec] = []
        self.unit_by_code: dict[str, UnitRec] = {}
        self.changes: list[dict] = []
        self.people: list[PersonRec] = []
        self.by_unit: dict[int, list[tuple[PersonRec, list]]] = {}
        self.files: list[FileRec] = []
        self.classes: list[ClassRec] = []
        self.citizen_ids: set[str] = set()
        self.phones: set[str] = set()
        self.card_seq = 0
        self.record_seq = 0
        self._places: dict[int, list[UnitRec]] = {}
        self._communes: list[UnitRec] = []
        self._turns: dict[int, int] = {}

    # -- calendar helpers --

    def workday_on_or_after(self, day: Date) -> Date:
        while not self.wd.is_working_day(day):
            day += DAY
        return day

    def workday_on_or_before(self, day: Date) -> Date:
        while not self.wd.is_working_day(day):
            day -= DAY
        return day

    def pick_day(self, lo: Date, hi: Date) -> Date:
        """A random working day in [lo, hi] (lo itself when the window has none)."""
        if hi < lo:
            raise ValueError(f"empty window {lo}..{hi}")
        days = [lo + DAY * i for i in range((hi - lo).days + 1)]
        work = [d for d in days if self.wd.is_working_day(d)]
        return self.rng.choice(work) if work else lo

    def pick_calendar_day(self, lo: Date, hi: Date) -> Date:
        return lo + DAY * self.rng.randint(0, max(0, (hi - lo).days))

    # -- units --

    def load_units(self) -> None:
        rows = _csv("units.csv")
        for order, row in enumerate(rows, 1):
            parent = self.unit_by_code[row["parent"]] if row["parent"] else None
            unit = UnitRec(
                id=order, code=row["code"], name=clean(row["name"]), level=row["level"] or None,
                org_type=row["org_type"], category=row["category"] or None, parent=parent,
                founded=Date.fromisoformat(row["founded"]),
                ended=Date.fromisoformat(row["ended"]) if row["ended"] else None,
                population=int(row["population"]) if row["population"] else None,
                base_members=int(row["members"]) if row["members"] else 0,
                committee_size=int(row["committee"]) if row["committee"] else None,
                mix=row["mix"] or None, sort_order=order)
            self.units.append(unit)
            self.unit_by_code[unit.code] = unit
        for change in _toml("changes.toml")["change"]:
            sources = [self.unit_by_code[c] for c in change["sources"]]
            results = [self.unit_by_code[c] for c in change["results"]]
            for unit in sources:
                if unit.ended != change["effective"]:
                    raise ValueError(f"{unit.code}: end date differs from its change")
                unit.successors = results
                unit.change_kind = change["kind"]
            if change["kind"] in ("merge", "split"):
                for unit in results:
                    if unit.founded != change["effective"]:
                        raise ValueError(f"{unit.code}: founding date differs from its change")
                    unit.base_members = 0
            self.changes.append({**change, "sources": sources, "results": results})
        self._communes = [u for u in self.units if u.level == "commune"]
        for unit in self.units:
            if unit.ended and not unit.successors:
                raise ValueError(f"{unit.code} ends without a change saying where its members go")

    def branches_of(self, org: UnitRec) -> list[UnitRec]:
        if org.org_type == "grassroots_branch":
            return [org]
        return [u for u in self.units if u.parent is org and u.is_branch]

    def unit_weight(self, unit: UnitRec) -> float:
        if unit.base_members:
            return unit.base_members
        sources = [u for u in self.units if unit in u.successors and u.change_kind != "dissolve"]
        share = sum(u.base_members / len(u.successors) for u in sources)
        return share or 5

    def subtree(self, root: UnitRec, day: Date) -> set[int]:
        found = {root.id}
        for unit in self.units:  # parents come before children in units.csv
            if unit.parent is not None and unit.parent.id in found and unit.alive(day):
                found.add(unit.id)
        return {uid for uid in found if self.units[uid - 1].alive(day)}

    # -- people --

    def name_for(self, people: str, sex: str) -> str:
        lists = self._name_lists[people]
        pick = self.rng.choices
        family = pick(*lists["family"])[0]
        middle = pick(*lists["middle_m" if sex == "M" else "middle_f"])[0]
        given_names = lists["given_m" if sex == "M" else "given_f"][0]
        given = self.rng.choice(given_names)
        name = clean(f"{family} {middle} {given}")
        if name in self._reserved_names:
            return self.name_for(people, sex)
        return name

    def people_of(self, unit: UnitRec) -> str:
        mix_name = unit.grassroots().mix or "tay"
        mix = self.cfg["mix"][mix_name]
        return self.rng.choices(list(mix), weights=list(mix.values()))[0]

    def citizen_id(self, born: Date, sex: str) -> str:
        # Clearly fictitious: province code 000 does not exist. Then the century/sex digit and
        # the year of birth as on a real card, then six digits.
        century = (0 if born.year < 2000 else 2) + (1 if sex == "F" else 0)
        while True:
            value = f"000{century}{born.year % 100:02d}{self.rng.randint(0, 999999):06d}"
            if value not in self.citizen_ids:
                self.citizen_ids.add(value)
                return value

    def phone(self) -> str | None:
        if self.rng.random() > 0.35:
            return None
        while True:
            value = f"0900{self.rng.randint(0, 999999):06d}"
            if value not in self.phones:
                self.phones.add(value)
                return value

    def place_words(self, unit: UnitRec) -> tuple[str, str]:
        """(residence, home town) for a person of `unit`."""
        commune = unit.commune()
        suffix = "huyện Ngân Sơn, tỉnh Bắc Kạn"
        if commune is None:  # district agencies: people live in the town mostly
            commune = self.unit_by_code["NS-NP"] if self.rng.random() < 0.7 else self.rng.choice(self._communes)
        commune_words = commune.name.replace("Đảng bộ ", "")
        places = self._places.get(commune.id)
        if places is None:
            places = self._places[commune.id] = [u for u in self.units if u.parent is commune
                                                 and u.category in ("village", "residential")]
        place = unit if unit.category in ("village", "residential") else self.rng.choice(places)
        place_words = place.name.replace("Chi bộ ", "")
        place_words = place_words[0].lower() + place_words[1:]
        home = commune if self.rng.random() < 0.8 else self.rng.choice(self._communes)
        return (f"{place_words}, {commune_words}, {suffix}",
                f"{home.name.replace('Đảng bộ ', '')}, {suffix}")

    def workplace(self, unit: UnitRec) -> str | None:
        if unit.category in ("village", "residential"):
            return None
        name = unit.name.replace("Chi bộ ", "")
        if unit.category == "agency" and unit.commune() is not None:
            return "UBND " + unit.commune().name.replace("Đảng bộ ", "")
        if unit.category == "armed_forces" and unit.commune() is not None:
            return "Ban Chỉ huy " + name
        if unit.parent is not None and unit.parent.org_type == "grassroots_committee" \
                and unit.parent.level is None:
            return name + " – " + unit.parent.name.replace("Đảng bộ ", "")
        return name

    def occupation(self, unit: UnitRec, age: int) -> str:
        category = unit.category or "village"
        if category == "armed_forces" and unit.grassroots().code == "NS-CA":
            return "Công an"
        if category == "school" and unit.grassroots().code in ("NS-THPT", "NS-THPTNP") and age < 20:
            return "Học sinh"
        names, weights = _weighted(self.cfg["occupation"][category])
        return self.rng.choices(names, weights)[0]

    def education(self, unit: UnitRec, born: Date, candidate: bool) -> str:
        if unit.category not in ("village", "residential"):
            return "12/12"
        if born.year < 1965:
            return self.rng.choices(["7/10", "10/10", "9/12", "4/10"], [5, 4, 2, 1])[0]
        if candidate:
            return self.rng.choices(["12/12", "9/12", "7/12", "5/12"], [62, 28, 6, 4])[0]
        return self.rng.choices(["12/12", "9/12", "7/12", "5/12"], [45, 40, 10, 5])[0]

    def new_person(self, unit: UnitRec, born: Date, sex: str, created: Date, *, candidate: bool) -> PersonRec:
        people = self.people_of(unit)
        age = full_months_between(born, self.today) // 12
        residence, home = self.place_words(unit)
        category = unit.category or "village"
        qualification = None
        if category in ("school", "agency", "other", "enterprise"):
            qualification = self.rng.choices(["Đại học", "Cao đẳng", "Trung cấp"], [6, 2, 2])[0]
        person = PersonRec(
            id=len(self.people) + 1, full_name=self.name_for(people, sex), sex=sex, born=born,
            ethnicity=people, citizen_id=self.citizen_id(born, sex), phone=self.phone(),
            education=self.education(unit, born, candidate), qualification=qualification,
            theory_level=None, occupation=self.occupation(unit, age),
            workplace=self.workplace(unit), home_town=home, residence=residence,
            youth_union=False, trade_union=category in ("school", "agency", "other", "enterprise"),
            public_role=None, created=created)
        self.people.append(person)
        return person

    def settle(self, person: PersonRec, unit: UnitRec, start: Date, end: Date | None) -> None:
        """Affiliate `person` with `unit` from `start`, following the unit's later reorganisations
        until `end` (None: to this day)."""
        while True:
            stop = unit.ended
            if end is not None and (stop is None or end <= stop):
                self._add_aff(person, unit, start, end)
                return
            if stop is None:
                self._add_aff(person, unit, start, None)
                return
            self._add_aff(person, unit, start, stop)
            if unit.change_kind == "split":  # members are shared out evenly between the results
                turn = self._turns.get(unit.id, self.rng.randrange(len(unit.successors)))
                self._turns[unit.id] = turn + 1
                unit, start = unit.successors[turn % len(unit.successors)], stop
            else:
                unit, start = self.rng.choice(unit.successors), stop

    def _add_aff(self, person: PersonRec, unit: UnitRec, start: Date, end: Date | None) -> None:
        aff = [unit, start, end]
        person.affs.append(aff)
        self.by_unit.setdefault(unit.id, []).append((person, aff))

    def officials_in(self, unit: UnitRec, day: Date, *, exclude: PersonRec | None = None) -> list:
        """(person, affiliation) of the official members of `unit` on `day`."""
        return [(p, a) for p, a in self.by_unit.get(unit.id, ())
                if a[1] <= day and (a[2] is None or a[2] > day) and p.is_official(day) and p is not exclude]

    def introducers_for(self, unit: UnitRec, day: Date, cand_start: Date, exclude=None) -> list:
        """Official members of `unit` on `day` who have been there with the candidate 12 months."""
        out = []
        for p, a in self.officials_in(unit, day, exclude=exclude):
            since = max(a[1], cand_start)
            if full_months_between(since, day) >= 12:
                out.append((p, since))
        return out

    # -- members of 2015 --

    def legacy_member(self, unit: UnitRec, *, permanent: bool) -> PersonRec:
        rng = self.rng
        category = unit.category or "village"
        if category in ("village", "residential"):
            years = range(1932, 1996)
            birth_year = rng.choices(years, [1 + (y > 1945) + (y > 1955) * 2 + (y > 1975) for y in years])[0]
        elif category == "armed_forces":
            birth_year = rng.randint(1968, 1994)
        else:
            birth_year = rng.randint(1961, 1992)
        sex = "M" if rng.random() < (0.62 if category in ("village", "residential") else
                                     0.85 if category == "armed_forces" else 0.5) else "F"
        born = Date(birth_year, rng.randint(1, 12), rng.randint(1, 28))
        earliest = add_months(born, 12 * 18 + 1)
        latest = min(add_months(born, 12 * 45), self.start - DAY * 30)
        ceremony = self.workday_on_or_after(self.pick_calendar_day(earliest, max(earliest, latest)))
        if ceremony >= self.start:
            ceremony = self.workday_on_or_before(self.start - DAY * 40)
        admitted = self.workday_on_or_before(ceremony - DAY * rng.randint(8, 40))
        person = self.new_person(unit, born, sex, self.start, candidate=False)
        if person.occupation in ("Nông dân", "Lao động tự do", "Kinh doanh") and birth_year < 1960:
            person.occupation = "Hưu trí" if rng.random() < 0.4 else person.occupation
        person.theory_level = rng.choices([None, "Sơ cấp", "Trung cấp", "Cao cấp"], [5, 4, 2, 0.3])[0] \
            if category in ("village", "residential") else rng.choices(["Sơ cấp", "Trung cấp", "Cao cấp"], [3, 5, 1])[0]
        self.record_seq += 1
        person.member = MemberRec(admitted_on=admitted, ceremony_on=ceremony,
                                  official_on=add_months(ceremony, 12),
                                  record_number=f"LL-{self.record_seq:05d}")
        start = max(unit.founded, ceremony)
        if rng.random() < 0.12:  # came from elsewhere later
            start = self.pick_calendar_day(start, self.start - DAY * 400) if start < self.start - DAY * 400 else start
        end = None
        if not permanent:
            age = 2015 - birth_year
            yearly = 0.06 if age >= 75 else 0.025 if age >= 65 else 0.008 if age >= 50 else 0.002
            moving = 0.004 if category not in ("village", "residential") else 0.001
            span = (self.today - self.start).days / 365.25
            roll = rng.random()
            if roll < yearly * span:
                end, reason = self.pick_calendar_day(self.start + DAY, self.today - DAY), "deceased"
            elif roll < (yearly + moving) * span:
                end, reason = self.pick_calendar_day(self.start + DAY, self.today - DAY), "moved_out"
            if end is not None:
                person.member.ended_on = end
                person.member.end_reason = reason
        self.settle(person, unit, start, end)
        return person

    def load_legacy(self) -> None:
        for unit in self.units:
            if unit.is_branch and unit.alive(self.start):
                for _ in range(unit.base_members):
                    self.legacy_member(unit, permanent=False)

    # -- classes --

    def build_classes(self) -> None:
        schedule = self.cfg["schedule"]
        seq_by_year: dict[tuple[str, int], int] = {}

        def second_monday(year: int, month: int) -> Date:
            day = Date(year, month, 1)
            while day.weekday() != 0:
                day += DAY
            return self.workday_on_or_after(day + DAY * 7)

        planned: list[tuple[str, str, Date, Date | None, Date | None, str, int]] = []
        for kind, months, first in (("awareness", schedule["awareness_months"], schedule["awareness_from"]),
                                    ("new_member", schedule["new_member_months"], schedule["new_member_from"])):
            for year in range(first, 2021):
                for month in months:
                    start = second_monday(year, month)
                    planned.append((f"{year}-{kind}-{month}", kind, start, start, self.wd.add(start, 4),
                                    schedule["place"], schedule["capacity"]))
        for entry in self.cfg["class_2021"]:
            planned.append((entry["key"], entry["kind"], entry["planned_start"], entry.get("start"),
                            entry.get("end"), entry["place"], entry["capacity"]))
        planned.sort(key=lambda p: (p[2], p[1]))
        for key, kind, planned_start, start, end, place, capacity in planned:
            year = planned_start.year
            seq_by_year[(kind, year)] = seq_by_year.get((kind, year), 0) + 1
            self.classes.append(ClassRec(0, key, kind, year, seq_by_year[(kind, year)], planned_start,
                                         start, end, place, capacity))
        self.class_by_key = {c.key: c for c in self.classes}

    def auto_class(self, dossier: Date, *, before_2021: bool) -> ClassRec:
        candidates = [c for c in self.classes if c.kind == "awareness" and c.end is not None
                      and c.end <= dossier - DAY * 5 and c.end >= dossier - DAY * 420
                      and (not before_2021 or c.year <= 2020)]
        candidates.sort(key=lambda c: c.end, reverse=True)
        weights = [6, 3, 1.5, 0.5][: len(candidates)]
        if not candidates:
            raise ValueError(f"no class before {dossier}")
        return self.rng.choices(candidates[: len(weights)], weights)[0]

    def new_member_class(self, ceremony: Date) -> ClassRec | None:
        for c in self.classes:
            if c.kind == "new_member" and c.start is not None and c.start >= ceremony + DAY * 10:
                return c if c.end <= self.today else None
        return None

    # -- file dates --

    def plan_files(self) -> None:
        periods = {"2015H2": (Date(2015, 7, 1), Date(2015, 12, 31)), "2020H1": (Date(2020, 1, 1), Date(2020, 6, 30)),
                   "2020H2": (Date(2020, 7, 1), Date(2020, 12, 31))}
        for year in range(2016, 2020):
            periods[str(year)] = (Date(year, 1, 1), Date(year, 12, 31))
        for row in _csv("admissions.csv"):
            org = self.unit_by_code[row["unit"]]
            for key, (lo, hi) in periods.items():
                for _ in range(int(row[key])):
                    f = self._new_file(org, "admitted", "auto")
                    f.period = (lo, hi)
                    f.flags["period"] = key
        for row in _csv("pipeline_2021.csv"):
            org = self.unit_by_code[row["unit"]]
            for _ in range(int(row["count"])):
                f = self._new_file(org, row["stage"], row["class"], closed=row["closed"] or None)
                f.flags["period"] = "2021"
                if f.target == "admitted":
                    f.period = (Date(2021, 1, 1), self.today)
                if f.closed == "moved":
                    f.close_reason = self.cfg["moved_2021"]["reason"]
                elif f.closed == "withdrawn":
                    f.close_reason = self.cfg["withdrawn_2021"]["reason"]
        for spec in self.cfg["closed_earlier"]:
            org = self.unit_by_code[spec["unit"]]
            f = self._new_file(org, spec["stage"], "auto", closed=spec["outcome"])
            f.close_reason = spec["reason"]
            f.period = (Date(spec["year"], 1, 1), Date(spec["year"], 12, 31))
            f.flags["period"] = str(spec["year"])
            if spec.get("vote_failed"):
                f.flags["vote_failed"] = True
        for f in self.files:
            self._draw_dates(f)

    def _new_file(self, org: UnitRec, target: str, plan_class: str, closed: str | None = None) -> FileRec:
        committee = org.org_type == "grassroots_committee"
        f = FileRec(id=len(self.files) + 1, org=org, committee=committee, target=target,
                    plan_class=plan_class, closed=closed)
        self.files.append(f)
        return f

    def _draw_dates(self, f: FileRec) -> None:
        rng, wd, today = self.rng, self.wd, self.today
        d = f.d
        fixed = self.class_by_key[f.plan_class] if f.plan_class.startswith("2021") else None
        before_2021 = f.plan_class == "earlier"
        low_dossier = fixed.end + DAY * 7 if fixed is not None and fixed.end is not None else None
        target = f.target

        if target == "identified" and fixed is None:
            d["identified"] = self.pick_day(Date(2021, 3, 1), today)
            return
        if target in ("in_class", "identified") and fixed is not None:
            # running class (in_class), failed the class (identified), or left it (closed)
            f.cls = fixed
            d["enrol"] = self.pick_day(fixed.start - DAY * 14, fixed.start - DAY * 3)
            d["identified"] = self.pick_day(d["enrol"] - DAY * 200, d["enrol"] - DAY * 25)
            if f.closed == "withdrawn":
                f.result = "left"
                f.flags["closed_on"] = self.pick_day(fixed.start + DAY, min(fixed.end, today))
            elif target == "identified":
                f.result = "failed"
                d["back"] = fixed.end
            return
        if target == "certified":
            if fixed is not None:
                f.cls = fixed
            elif f.plan_class == "earlier":
                f.cls = rng.choice([c for c in self.classes if c.kind == "awareness" and c.year == 2020
                                    and c.end is not None])
            else:
                lo, hi = f.period
                f.cls = rng.choice([c for c in self.classes if c.kind == "awareness" and c.end is not None
                                    and lo <= c.end <= hi])
            f.result = "passed"
            d["cert"] = f.cls.end
            if f.closed:
                f.flags["closed_on"] = self.pick_day(d["cert"] + DAY * 20, min(d["cert"] + DAY * 200, today))
            self._draw_before_class(f)
            return

        # stages from the dossier on: draw the anchor, then go back to the dossier
        if target == "dossier":
            if fixed is not None:
                lo = low_dossier
                hi = today
            elif f.period is not None:
                lo, hi = f.period
                lo = max(lo, Date(lo.year, 3, 1))
            else:
                lo, hi = today - DAY * 100, today
            d["dossier"] = self.pick_day(lo, hi)
            if f.flags.get("vote_failed"):
                d["vote_failed"] = self.pick_day(d["dossier"] + DAY * 30, d["dossier"] + DAY * 45)
                f.flags["closed_on"] = self.pick_day(d["vote_failed"] + DAY * 10, d["vote_failed"] + DAY * 30)
            elif f.closed:
                f.flags["closed_on"] = self.pick_day(d["dossier"] + DAY * 45, min(d["dossier"] + DAY * 150, today))
        elif target == "branch_approved":
            lo = wd.add(today, -12 if f.committee else -45)
            if low_dossier:
                lo = max(lo, low_dossier + DAY * 28)
            d["db"] = self.pick_day(lo, today)
        elif target == "committee_approved":
            lo = wd.add(today, -45)
            if low_dossier:
                lo = max(lo, wd.add(low_dossier + DAY * 28, 3))
            d["dc"] = self.pick_day(lo, today)
            low_db = max(wd.add(today, -58), low_dossier + DAY * 28 if low_dossier else Date.min)
            d["db"] = self.pick_day(max(low_db, wd.add(d["dc"], -10)), wd.add(d["dc"], -2))
        elif target == "admitted":
            lo, hi = f.period
            if low_dossier:
                lo = max(lo, wd.add(low_dossier + DAY * 28, 12))
            d["dec"] = self.pick_day(lo, min(hi, today))
            k_max = 45
            if low_dossier:
                k_max = min(45, wd.between(low_dossier + DAY * 28, d["dec"]))
            d["db"] = wd.add(d["dec"], -rng.randint(10, max(10, k_max)))
            if f.committee:
                gap = wd.between(d["db"], d["dec"])
                d["dc"] = wd.add(d["db"], rng.randint(2, min(12, gap - 2)))
        else:
            raise ValueError(f"unknown stage {target}")

        if "dossier" not in d:
            hi = d["db"] - DAY * 28
            lo = d["db"] - DAY * 75
            if low_dossier:
                lo = max(lo, low_dossier)
            d["dossier"] = self.pick_day(lo, hi)
        # documents and introductions, dated before the branch vote (or today)
        limit = (d["db"] - DAY) if "db" in d else (d["vote_failed"] - DAY) if "vote_failed" in d else today
        d["application_letter"] = d["dossier"]
        d["background_form"] = self.pick_day(d["dossier"], min(d["dossier"] + DAY * 7, limit))
        d["background_verification"] = self.pick_day(d["dossier"] + DAY * 10,
                                                     max(d["dossier"] + DAY * 10, limit - DAY * 2))
        d["comments"] = self.pick_day(d["dossier"] + DAY * 7, max(d["dossier"] + DAY * 7, limit))
        d["intro"] = self.pick_day(d["dossier"], min(d["dossier"] + DAY * 20, limit))
        # the class
        if fixed is not None:
            f.cls = fixed
        else:
            f.cls = self.auto_class(d["dossier"], before_2021=before_2021 or d["dossier"].year <= 2020)
        f.result = "passed"
        d["cert"] = f.cls.end
        self._draw_before_class(f)
        if "dec" in d:
            self._draw_after_decision(f)

    def _draw_before_class(self, f: FileRec) -> None:
        d = f.d
        d["enrol"] = self.pick_day(f.cls.start - DAY * 14, f.cls.start - DAY * 3)
        d["identified"] = self.pick_day(d["enrol"] - DAY * 240, d["enrol"] - DAY * 21)

    def _draw_after_decision(self, f: FileRec) -> None:
        rng, wd, today, d = self.rng, self.wd, self.today, f.d
        d["received"] = self.pick_day(d["dec"], min(d["dec"] + DAY * 4, max(d["dec"], today)))
        d["ceremony"] = wd.add(d["received"], rng.randint(5, 25))
        d["member_records"] = wd.add(d["ceremony"], rng.randint(3, 20))
        d["official_on"] = add_months(d["ceremony"], 12)
        nm = self.new_member_class(d["ceremony"])
        if nm is not None:
            f.flags["nm_class"] = nm
            d["new_member_certificate"] = self.pick_day(nm.end, nm.end + DAY * 10)
        d["dbr"] = wd.add(d["official_on"], rng.randint(1, 20))
        if f.committee:
            d["dcr"] = wd.add(d["dbr"], rng.randint(2, 8))
        d["drec"] = wd.add(d.get("dcr", d["dbr"]), rng.randint(2, 10))
        if d["drec"] > today and wd.add(d["official_on"], 30) < today:
            # the recognition was due before today: it happened, within its deadlines
            d["drec"] = self.workday_on_or_before(today)
            if f.committee:
                d["dcr"] = self.pick_day(d["dbr"], d["drec"])
        d["self_review"] = self.pick_day(d["dbr"] - DAY * 12, d["dbr"] - DAY * 2)
        d["helper_comments"] = self.pick_day(d["dbr"] - DAY * 12, d["dbr"] - DAY * 2)

    # -- placing files in branches --

    def place_files(self) -> None:
        order = sorted(self.files, key=lambda f: (f.d.get("identified"), f.id))
        for f in order:
            self._place(f)

    def _life_end(self, f: FileRec) -> Date:
        if "closed_on" in f.flags:
            return f.flags["closed_on"]
        if "drec" in f.d and f.d["drec"] <= self.today:
            return f.d["drec"]
        return self.today

    def _age_at_vote(self, f: FileRec, branch: UnitRec) -> int:
        """Age in years at the branch vote (or at the last step)."""
        rng = self.rng
        category = branch.category
        if category == "school" and branch.grassroots().code in ("NS-THPT", "NS-THPTNP") and rng.random() < 0.5:
            return 18
        if category == "armed_forces":
            return rng.randint(20, 34)
        if category in ("school", "agency", "other", "enterprise"):
            return rng.choices([rng.randint(23, 30), rng.randint(31, 40), rng.randint(41, 50)], [6, 3, 1])[0]
        return rng.choices([rng.randint(18, 30), rng.randint(31, 40), rng.randint(41, 50), rng.randint(51, 56)],
                           [70, 21, 7, 2])[0]

    def _place(self, f: FileRec) -> None:
        rng, d = self.rng, f.d
        life_end = self._life_end(f)
        intro = d.get("intro") if d.get("intro") and d["intro"] <= min(self.today, life_end) else None
        vote_days = [d[k] for k in ("db", "vote_failed", "dbr") if k in d and d[k] <= life_end]
        first = d["identified"]
        eligible, weights = [], []
        for branch in self.branches_of(f.org):
            if branch.ended is not None and branch.ended <= life_end:
                continue
            if branch.founded > first or (intro and branch.founded > add_months(intro, -12)):
                continue
            if not self.officials_in(branch, first):
                continue
            if any(len(self.officials_in(branch, day)) < 3 for day in vote_days):
                continue
            if intro:
                cand_start = add_months(intro, -13)
                if len(self.introducers_for(branch, intro, cand_start)) < 3:
                    continue
            eligible.append(branch)
            weights.append(self.unit_weight(branch))
        if not eligible:
            raise ValueError(f"no branch of {f.org.code} can take file {f.id} ({f.target}, {first})")
        branch = rng.choices(eligible, weights)[0]
        f.branch = branch
        # the candidate
        vote_day = d.get("db") or d.get("vote_failed") or min(self.today, life_end)
        age = self._age_at_vote(f, branch)
        born = vote_day - DAY * int(age * 365.25 + rng.randint(40, 330))
        months = full_months_between(born, vote_day)
        if months < 217:
            born = add_months(vote_day, -217) - DAY * rng.randint(0, 20)
        sex = "F" if rng.random() < (0.55 if branch.category in ("school", "other") else 0.42) else "M"
        person = self.new_person(branch, born, sex, first, candidate=True)
        age_intro = full_months_between(born, intro or vote_day)
        person.youth_union = age_intro < 31 * 12 and rng.random() < 0.85
        f.person = person
        if intro:
            f.youth_path = person.youth_union and age_intro < 31 * 12 and rng.random() < 0.55
            f.trade_path = not f.youth_path and person.trade_union and rng.random() < 0.3
        # on the branch's records since: living in the village for years, or working (or, for a
        # pupil, studying) in the unit for a few
        if branch.category in ("village", "residential"):
            lo, hi = max(first - DAY * 365 * 10, add_months(born, 16 * 12)), first - DAY * 365 * 2
        else:
            lo, hi = max(first - DAY * 365 * 4, add_months(born, 15 * 12)), first - DAY * 365
        start = self.pick_calendar_day(lo, hi) if hi > lo else lo
        if intro:
            start = min(start, add_months(intro, -13))
        start = max(start, branch.founded)
        moved_out = f.closed == "moved"
        end = f.flags["closed_on"] if moved_out else None
        if "ceremony" in d and d["ceremony"] <= self.today:
            self.record_seq += 1
            recognised = d["drec"] <= self.today
            person.member = MemberRec(
                admitted_on=d["dec"], ceremony_on=d["ceremony"],
                official_on=d["official_on"] if recognised else None, case_id=f.id,
                record_number=f"LL-{self.record_seq:05d}")
        self.settle(person, branch, start, end)
        f.flags["cand_start"] = start

    # -- calibration --

    def members_in(self, root: UnitRec, day: Date) -> int:
        ids = self.subtree(root, day)
        count = 0
        for p in self.people:
            if p.is_member(day):
                aff = p.aff_at(day)
                if aff is not None and aff[0].id in ids:
                    count += 1
        return count

    def calibrate(self) -> None:
        done: list[UnitRec] = []
        for goal in self.cfg["members_on"]:
            root = self.unit_by_code[goal["unit"]]
            missing = goal["members"] - self.members_in(root, goal["date"])
            if missing < 0:
                raise ValueError(f"{root.code} has {-missing} members too many on {goal['date']}: "
                                 "lower the members of its units in units.csv")
            inside = self.subtree(root, goal["date"])
            stable = [u for u in self.units if u.is_branch and u.id in inside and u.ended is None
                      and u.founded <= self.start and not any(u.id in self.subtree(o, goal["date"]) for o in done)]
            weights = [u.base_members for u in stable]
            for _ in range(missing):
                unit = self.rng.choices(stable, weights)[0]
                self.legacy_member(unit, permanent=True)
            done.append(root)
        for goal in self.cfg["members_on"]:
            got = self.members_in(self.unit_by_code[goal["unit"]], goal["date"])
            if got != goal["members"]:
                raise ValueError(f"calibration failed for {goal['unit']}: {got}")

    # -- introducers, helpers, votes --

    def vote(self, convened: int) -> tuple[int, int, int]:
        rng = self.rng
        excused = rng.choices([0, 1, 2], [6, 3, 1])[0] if convened >= 8 else 0
        base = convened - excused
        least = (2 * base + 2) // 3
        votes_for = max(least, base - rng.choices([0, 1, 2, 3], [10, 4, 2, 1])[0])
        return votes_for, convened, excused

    def failed_vote(self, convened: int) -> tuple[int, int, int]:
        base = convened
        most = (2 * base - 1) // 3  # 3*for < 2*base
        return max(0, most - self.rng.randint(0, 1)), convened, 0

    def draw_people_and_votes(self) -> None:
        rng = self.rng
        for f in self.files:
            d, branch, person = f.d, f.branch, f.person
            life_end = self._life_end(f)
            cand_start = f.flags["cand_start"]
            # helper: an official member of the branch from the start to the end of the file
            pool = [p for p, a in self.officials_in(branch, d["identified"], exclude=person)
                    if (a[2] is None or a[2] > life_end) and p.is_official(life_end)]
            if not pool:
                pool = [p for p, a in self.officials_in(branch, d["identified"], exclude=person)]
            helper = rng.choice(pool)
            f.flags["helper"] = helper
            intro = d.get("intro")
            if intro and intro <= min(self.today, life_end):
                candidates = self.introducers_for(branch, intro, cand_start, exclude=person)
                need = 1 if (f.youth_path or f.trade_path) else 2
                with_helper = [c for c in candidates if c[0] is helper]
                chosen = []
                if with_helper and rng.random() < 0.5:
                    chosen.append(with_helper[0])
                others = [c for c in candidates if c[0] is not helper]
                chosen += rng.sample(others, need - len(chosen))
                f.flags["introducers"] = chosen
            for key, convened_of in (("db", "branch"), ("dbr", "branch"), ("dc", "committee"),
                                     ("dcr", "committee"), ("vote_failed", "branch")):
                day = d.get(key)
                if day is None or day > min(self.today, life_end):
                    continue
                if convened_of == "branch":
                    convened = len(self.officials_in(branch, day))
                else:
                    convened = f.org.committee_size
                votes = self.failed_vote(convened) if key == "vote_failed" else self.vote(convened)
                f.flags[f"votes_{key}"] = votes

    # -- the special histories --

    def mark_specials(self) -> None:
        def first(unit: str, period: str, **more) -> FileRec:
            for f in self.files:
                if f.org.code == unit and f.flags.get("period") == period and all(
                        getattr(f, k) == v for k, v in more.items()):
                    return f
            raise ValueError(f"no file for {unit} {period}")

        spec = self.cfg["vote_failed"]
        f = first(spec["unit"], spec["period"], target="admitted")
        d = f.d
        ready = max(d["intro"], d["comments"], d["background_verification"]) + DAY
        d["vote_failed"] = self.pick_day(min(ready, d["db"] - DAY * 7), d["db"] - DAY * 5)
        f.flags["vote_failed_reason"] = spec["reason"]
        spec = self.cfg["undo"]
        f = first(spec["unit"], spec["period"], target="admitted")
        f.flags["undo"] = spec
        spec = self.cfg["hold"]
        f = first(spec["unit"], "2021", target=spec["stage"], closed=None)
        f.flags["hold"] = spec["reason"]

    # -- rows --

    def rows(self, accounts: dict[str, int]) -> dict:
        """Every row to insert, per model, with explicit ids."""
        today = self.today
        out: dict = {m: [] for m in models.ALL_MODELS}
        stamp = lambda day, hour=8: datetime.datetime.combine(day, datetime.time(hour, 0))  # noqa: E731
        district = self.unit_by_code[self.cfg["admission_body"]]

        for unit in self.units:
            out[models.Unit].append(dict(
                id=unit.id, code=unit.code, name=unit.name, name_folded=fold(unit.name), level=unit.level,
                org_type=unit.org_type, category=unit.category, parent=unit.parent.id if unit.parent else None,
                founded=unit.founded, ended=unit.ended, population=unit.population,
                mountain=True,
                decides_admissions=district.id if unit.parent is not None and unit.level != "district" else None,
                sort_order=unit.sort_order))
            out[models.UnitLink].append(dict(id=unit.id, unit=unit.id, parent=unit.parent.id if unit.parent else None,
                                             start=unit.founded, end=unit.ended))
        part_id = 0
        for number, change in enumerate(self.changes, 1):
            out[models.UnitChange].append(dict(
                id=number, kind=change["kind"], decision=change["decision"], decided=change["decided"],
                effective=change["effective"], note=change["note"], entered_by=accounts["demo_organiser"],
                entered_at=stamp(change["decided"], 15), applied=True))
            for role in ("sources", "results"):
                for unit in change[role]:
                    part_id += 1
                    out[models.UnitChangePart].append(dict(
                        id=part_id, change=number, unit=unit.id, role=role[:-1], old_name=None, new_name=None))

        terms = {}
        for number, term in enumerate(self.cfg["term"], 1):
            terms[term["name"]] = number
            out[models.Term].append(dict(id=number, name=term["name"], start=term["start"], end=term["end"]))
        targets = []
        for t in self.cfg["target"]:
            targets.append(dict(unit=self.unit_by_code[t["unit"]].id, year=t.get("year"),
                                term=terms[t["term"]] if "term" in t else None, value=t["value"],
                                set_on=t["set_on"], note=t.get("note")))
        for code, value in self.cfg["targets_2021"].items():
            targets.append(dict(unit=self.unit_by_code[code].id, year=2021, term=None, value=value,
                                set_on=Date(2021, 1, 20), note=None))
        for year, value in self.cfg["district_targets"].items():
            targets.append(dict(unit=district.id, year=int(year), term=None, value=value,
                                set_on=Date(int(year), 1, 15), note=None))
        for number, t in enumerate(targets, 1):
            out[models.Target].append(dict(id=number, set_by=accounts["demo_organiser"], **t))

        # classes: keep those held with trainees, and everything of 2021
        used = [c for c in self.classes if c.enrolments or c.year >= 2021]
        for number, c in enumerate(used, 1):
            c.id = number
            if c.start is None:
                status = "planned"
            elif c.end is not None and c.end < today:
                status = "finished"
            else:
                status = "running"
            out[models.TrainingClass].append(dict(
                id=c.id, kind=c.kind, name=c.name, organiser=self.cfg["organiser"], unit=district.id,
                year=c.year, planned_start=c.planned_start, start=c.start, end=c.end, place=c.place,
                capacity=max(c.capacity, len(c.enrolments)), status=status))
        plan_id = 0
        for kind, years in self.cfg["class_plan"].items():
            for year, count in years.items():
                plan_id += 1
                trainees = self.cfg["class_plan_trainees"].get(year) if kind == "awareness" else None
                out[models.ClassPlan].append(dict(id=plan_id, unit=district.id, year=int(year), kind=kind,
                                                  classes=count, trainees=trainees))

        for p in self.people:
            branch = p.affs[-1][0] if p.affs and p.affs[-1][2] is None else None
            out[models.Person].append(dict(
                id=p.id, full_name=p.full_name, name_folded=fold(p.full_name), sort_key=name_sort_key(p.full_name),
                other_name=None, other_folded=None, sex=p.sex, born=p.born, ethnicity=p.ethnicity,
                religion=None, home_town=p.home_town, residence=p.residence, citizen_id=p.citizen_id,
                phone=p.phone, education=p.education, qualification=p.qualification,
                theory_level=p.theory_level, occupation=p.occupation, workplace=p.workplace,
                youth_union=p.youth_union, trade_union=p.trade_union, public_role=p.public_role,
                branch=branch.id if branch else None, created_at=stamp(p.created), version=1))
        aff_id = 0
        for p in self.people:
            for unit, start, end in p.affs:
                aff_id += 1
                out[models.Affiliation].append(dict(id=aff_id, person=p.id, unit=unit.id, start=start, end=end))

        self._file_rows(out, accounts, stamp)

        member_id = 0
        for p in self.people:
            m = p.member
            if m is None:
                continue
            member_id += 1
            out[models.Membership].append(dict(
                id=member_id, person=p.id, case=m.case_id, admitted_on=m.admitted_on, ceremony_on=m.ceremony_on,
                official_on=m.official_on, card_number=m.card_number, record_number=m.record_number,
                ended_on=m.ended_on, end_reason=m.end_reason))
        return out

    def _file_rows(self, out: dict, accounts: dict[str, int], stamp) -> None:
        today, rng = self.today, self.rng
        district = self.unit_by_code[self.cfg["admission_body"]]
        nanp = self.subtree(self.unit_by_code["NS-NP"], today) | {u.id for u in self.units
                                                                   if u.commune() is self.unit_by_code["NS-NP"]}
        organiser = self.cfg["organiser"]
        rec = self.cfg["recommended_by"]
        ids = {"step": 0, "event": 0, "resolution": 0, "document": 0, "introducer": 0, "helper": 0,
               "cert": 0, "enrol": 0}

        def next_id(kind: str) -> int:
            ids[kind] += 1
            return ids[kind]

        # numbers in date order: district decisions per term, resolutions per body and year
        reserved = {int(c["decision"].split("-")[0]) for c in self.changes if c["decision"].endswith("/HU")}
        decisions, branch_res, committee_res = [], [], []
        for f in self.files:
            for key in ("dec", "drec"):
                if key in f.d and f.d[key] <= min(today, self._life_end(f)):
                    decisions.append((f.d[key], f.id, key))
            for key in ("db", "dbr"):
                if key in f.d and f.d[key] <= min(today, self._life_end(f)):
                    branch_res.append((f.d[key], f.id, key))
            for key in ("dc", "dcr"):
                if key in f.d and f.d[key] <= min(today, self._life_end(f)):
                    committee_res.append((f.d[key], f.id, key))
        numbers: dict[tuple[int, str], str] = {}
        counter: dict = {}
        by_id = {f.id: f for f in self.files}
        for day, fid, key in sorted(decisions):
            term = "2015" if day <= Date(2020, 6, 30) else "2020"
            n = counter.get(term, 0) + 1
            while n in reserved:
                n += 1
            counter[term] = n
            numbers[(fid, key)] = f"{n}-QĐ/HU"
        for day, fid, key in sorted(branch_res):
            group = (by_id[fid].branch.id, day.year)
            n = counter.get(group) or rng.randint(1, 4)
            counter[group] = n + rng.randint(1, 3)
            numbers[(fid, key)] = f"{n}-NQ/CB"
        for day, fid, key in sorted(committee_res):
            group = ("c", by_id[fid].org.id, day.year)
            n = counter.get(group) or rng.randint(3, 9)
            counter[group] = n + rng.randint(1, 4)
            numbers[(fid, key)] = f"{n}-NQ/ĐU"

        # certificates: awareness per class year, new-member per class year, in class order
        cert_numbers: dict[tuple[str, int], int] = {}

        def certificate(person: PersonRec, c: ClassRec) -> int:
            key = (c.kind, c.year)
            cert_numbers[key] = cert_numbers.get(key, 0) + 1
            cid = next_id("cert")
            out[models.Certificate].append(dict(
                id=cid, person=person.id, kind=c.kind, number=f"{cert_numbers[key]:03d}/{c.year}",
                issued=c.end, issuer=organiser, training_class=c.id))
            return cid

        enrol_rows = []
        for f in sorted(self.files, key=lambda f: (f.cls.end or today, f.id) if f.cls else (today, f.id)):
            if f.cls is None:
                continue
            cert_id = certificate(f.person, f.cls) if f.result == "passed" else None
            f.flags["cert_id"] = cert_id
            enrol_rows.append((f.cls.id, f.person.id, f.id, f.d["enrol"], f.result, cert_id))
        for f in sorted((f for f in self.files if "nm_class" in f.flags and f.d["ceremony"] <= today),
                        key=lambda f: (f.flags["nm_class"].end, f.id)):
            c = f.flags["nm_class"]
            f.flags["nm_cert_id"] = certificate(f.person, c)
            enrol_rows.append((c.id, f.person.id, f.id, self.workday_on_or_before(c.start - DAY * 5),
                               "passed", f.flags["nm_cert_id"]))
        for p, c in self.legacy_new_member:
            enrol_rows.append((c.id, p.id, None, self.workday_on_or_before(c.start - DAY * 5),
                               "passed", certificate(p, c)))
        for class_id, person_id, case_id, enrolled_on, result, cert_id in enrol_rows:
            out[models.Enrolment].append(dict(id=next_id("enrol"), training_class=class_id, person=person_id,
                                              case=case_id, enrolled_on=enrolled_on, result=result,
                                              certificate=cert_id))

        for f in self.files:
            d, person, branch = f.d, f.person, f.branch
            life_end = self._life_end(f)
            horizon = min(today, life_end)
            local = branch.id in nanp
            clerk = accounts["demo_xa"] if local else accounts["demo_organiser"]
            recommended = (rec["youth"] if person.youth_union else rec["union"] if person.trade_union
                           else rec["women"] if person.sex == "F" and rng.random() < 0.5 else rec["farmers"])
            steps: list[dict] = []

            def step(stage: str, day: Date, unit: UnitRec, **extra) -> dict:
                row = dict(id=next_id("step"), case=f.id, seq=len(steps) + 1, stage=stage, date=day,
                           unit=unit.id, received=extra.pop("received", None), extension=False,
                           details=json.dumps(extra, ensure_ascii=False, default=str) if extra else None,
                           entered_by=clerk if unit is not district else accounts["demo_organiser"],
                           entered_at=stamp(day, 16), undone_at=None, undo_reason=None)
                steps.append(row)
                return row

            def resolution(step_row: dict, kind: str, key: str, day: Date, votes=None) -> None:
                v = votes or (None, None, None)
                out[models.Resolution].append(dict(
                    id=next_id("resolution"), step=step_row["id"], kind=kind, number=numbers[(f.id, key)],
                    date=day, votes_for=v[0], votes_convened=v[1], votes_excused=v[2]))

            step("identified", d["identified"], branch, recommended_by=recommended)
            if f.cls is not None and d["enrol"] <= horizon:
                step("in_class", d["enrol"], branch, class_id=f.cls.id)
                if "back" in d:
                    step("identified", d["back"], branch, reason="failed_class")
            if "cert" in d and d["cert"] <= horizon:
                step("certified", d["cert"], branch, certificate_id=f.flags["cert_id"])
            if "dossier" in d and d["dossier"] <= horizon:
                if "undo" in f.flags:
                    wrong = step("dossier", d["dossier"] + DAY * 7, branch)
                    wrong["undone_at"] = stamp(d["dossier"] + DAY * 8, 9)
                    wrong["undo_reason"] = f.flags["undo"]["reason"]
                    out[models.CaseEvent].append(dict(
                        id=next_id("event"), case=f.id, kind="undo", date=d["dossier"] + DAY * 8,
                        reason=f.flags["undo"]["reason"], details=json.dumps({"seq": wrong["seq"]}),
                        entered_by=clerk, entered_at=stamp(d["dossier"] + DAY * 8, 9)))
                step("dossier", d["dossier"], branch)
            if "vote_failed" in d and d["vote_failed"] <= horizon:
                v = f.flags["votes_vote_failed"]
                out[models.CaseEvent].append(dict(
                    id=next_id("event"), case=f.id, kind="vote_failed", date=d["vote_failed"],
                    reason=f.flags.get("vote_failed_reason") or f.close_reason,
                    details=json.dumps({"votes": {"for": v[0], "convened": v[1], "excused": v[2]}}),
                    entered_by=clerk, entered_at=stamp(d["vote_failed"], 17)))
            if "db" in d and d["db"] <= horizon:
                row = step("branch_approved", d["db"], branch)
                resolution(row, "branch_resolution", "db", d["db"], f.flags["votes_db"])
            if "dc" in d and d["dc"] <= horizon:
                row = step("committee_approved", d["dc"], f.org)
                resolution(row, "committee_resolution", "dc", d["dc"], f.flags["votes_dc"])
            if "dec" in d and d["dec"] <= horizon:
                row = step("admitted", d["dec"], district, received=d["received"])
                resolution(row, "decision", "dec", d["dec"])
            if "ceremony" in d and d["ceremony"] <= horizon:
                step("probationary", d["ceremony"], branch, helper_person_id=f.flags["helper"].id)
            if "drec" in d and d["drec"] <= horizon:
                row = step("official", d["drec"], district, official_on=d["official_on"].isoformat())
                resolution(row, "branch_resolution", "dbr", d["dbr"], f.flags["votes_dbr"])
                if f.committee:
                    resolution(row, "committee_resolution", "dcr", d["dcr"], f.flags["votes_dcr"])
                resolution(row, "decision", "drec", d["drec"])
                self.card_seq += 1
                person.member.card_number = f"9{self.card_seq:07d}"
            out[models.Step].extend(steps)
            live = [s for s in steps if s["undone_at"] is None]
            stage = live[-1]["stage"]
            status = "closed" if f.closed else "open"
            closed_on = f.flags.get("closed_on") if f.closed else None
            out[models.CaseFile].append(dict(
                id=f.id, person=person.id, branch=branch.id, stage=stage, status=status,
                on_hold="hold" in f.flags, hold_reason=f.flags.get("hold"), outcome=f.closed,
                closed_on=closed_on, close_reason=f.close_reason if f.closed else None,
                recommended_by=recommended, readmission=False, legacy=False,
                opened_at=stamp(d["identified"]), version=len(steps)))
            if "hold" in f.flags:
                day = self.pick_day(d["dossier"] + DAY, max(d["dossier"] + DAY, today))
                out[models.CaseEvent].append(dict(
                    id=next_id("event"), case=f.id, kind="hold", date=day, reason=f.flags["hold"],
                    details=None, entered_by=clerk, entered_at=stamp(day, 10)))
            if f.closed:
                out[models.CaseEvent].append(dict(
                    id=next_id("event"), case=f.id, kind="close", date=closed_on, reason=f.close_reason,
                    details=json.dumps({"outcome": f.closed}), entered_by=clerk, entered_at=stamp(closed_on, 10)))
            # documents
            for kind in ("application_letter", "background_form", "background_verification", "comments",
                         "member_records", "new_member_certificate", "self_review", "helper_comments"):
                day = d.get(kind)
                if day is None or day > horizon:
                    continue
                if kind in ("self_review", "helper_comments") and not ("drec" in d and d["drec"] <= horizon):
                    continue
                # (the new-member certificate itself is the person's Certificate row)
                out[models.Document].append(dict(id=next_id("document"), case=f.id, kind=kind, received=day,
                                                 note=None))
            # introducers and helper
            for intro_person, since in f.flags.get("introducers", ()):
                out[models.Introducer].append(dict(
                    id=next_id("introducer"), case=f.id, kind="member", person=intro_person.id, resolution=None,
                    date=d["intro"], together_since=since, replacement=False, snapshot=None))
            if f.flags.get("introducers") is not None:
                commune = branch.commune()
                if f.youth_path:
                    out[models.Introducer].append(dict(
                        id=next_id("introducer"), case=f.id, kind="youth_union", person=None,
                        resolution=f"{rng.randint(2, 40):02d}-NQ/ĐTN", date=d["intro"], together_since=None,
                        replacement=False, snapshot=json.dumps({"body": "Ban Chấp hành Đoàn "
                                                                + (commune.name.replace("Đảng bộ ", "")
                                                                   if commune else branch.name.replace("Chi bộ ", ""))},
                                                               ensure_ascii=False)))
                elif f.trade_path:
                    out[models.Introducer].append(dict(
                        id=next_id("introducer"), case=f.id, kind="trade_union", person=None,
                        resolution=f"{rng.randint(2, 30):02d}-NQ/CĐCS", date=d["intro"], together_since=None,
                        replacement=False, snapshot=None))
            out[models.Helper].append(dict(id=next_id("helper"), case=f.id, person=f.flags["helper"].id,
                                           since=d["identified"], snapshot=None))
        # legacy members' cards
        for p in self.people:
            if p.member is not None and p.member.case_id is None and p.member.card_number is None:
                self.card_seq += 1
                p.member.card_number = f"9{self.card_seq:07d}"

    # -- everything --

    def build(self, accounts: dict[str, int]) -> dict:
        self._reserved_names = {clean(o["full_name"]) for o in self.cfg["official"]}
        self.load_units()
        self.build_classes()
        self.load_legacy()
        self.plan_files()
        self.mark_specials()
        self.place_files()
        for f in self.files:
            if f.cls is not None:
                f.cls.enrolments.append(f)
            if "nm_class" in f.flags and f.d["ceremony"] <= self.today:
                f.flags["nm_class"].enrolments.append(f)
        self.calibrate()
        # members admitted just before the data starts (no file) take the new-member class too
        self.legacy_new_member = []
        for p in self.people:
            m = p.member
            if m is not None and m.case_id is None and m.ceremony_on >= self.start - DAY * 180:
                c = self.new_member_class(m.ceremony_on)
                if c is not None:
                    c.enrolments.append(p)
                    self.legacy_new_member.append((p, c))
        self.draw_people_and_votes()
        for spec in self.cfg["official"]:
            unit = self.unit_by_code[spec["branch"]]
            person = PersonRec(
                id=len(self.people) + 1, full_name=clean(spec["full_name"]), sex=None, born=None,
                ethnicity=None, citizen_id=None, phone=None, education=None, qualification=None,
                theory_level=None, occupation=None, workplace=None, home_town=None, residence=None,
                youth_union=False, trade_union=False, public_role=clean(spec["public_role"]),
                created=spec["since"])
            self.people.append(person)
            self._add_aff(person, unit, spec["since"], None)
        return self.rows(accounts)


# --- loading ------------------------------------------------------------------------------

def _is_empty() -> bool:
    return not (models.Unit.select().exists() or models.Person.select().exists())


def _wipe() -> None:
    """Every row of every table goes, the audit trail's too (its triggers are lifted for it)."""
    drop_append_only(models.database)
    models.Unit.update(parent=None, decides_admissions=None).execute()
    for model in reversed(sort_models(models.ALL_MODELS)):
        model.delete().execute()
    install_append_only(models.database)
    audit.forget_head()


def _bulk_insert(model, rows: list[dict]) -> None:
    """Insert `rows` (dicts keyed by field name, all with the same keys) with one executemany.

    Each value goes through its field's db_value, as peewee's own insert does (so the text
    cleaning of the models applies); building peewee's SQL row by row would take seconds.
    """
    if not rows:
        return
    fields = [model._meta.fields[name] for name in rows[0]]
    names = [f.name for f in fields]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    marks = ", ".join([models.database.param] * len(fields))
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
    values = []
    for row in rows:
        if list(row) != names:
            raise ValueError(f"{model.__name__}: rows with different fields")
        values.append(tuple(f.db_value(row[f.name]) for f in fields))
    cursor = models.database.cursor()
    for i in range(0, len(values), BATCH):
        cursor.executemany(sql, values[i:i + BATCH])


def _transaction():
    db = models.database.obj
    if isinstance(db, SqliteDatabase):
        return models.database.atomic("IMMEDIATE")
    return models.database.atomic()


def load_demo(login: str, *, force: bool = False) -> DemoSummary:
    """Load the Ngân Sơn demo into the bound database (already opened and migrated).

    Refuses a database holding units or people (`DemoError("not_empty")`) unless `force`, which
    first deletes every row of every table, in the same transaction.
    """
    try:
        summary = _load(login, force)
    except BaseException:
        audit.discard_pending()
        raise
    audit.publish_head()
    return summary


def _new_candidates(cfg: dict, accounts: dict[str, int]) -> None:
    """The candidates found last (demo.toml `new_candidate`), opened as the commune's organiser
    would in the application."""
    from db import pipeline
    from db.access import account_actor

    organiser = account_actor("demo_xa") if "demo_xa" in accounts else None
    helpers = {group["branch"]: _helper_for(group["branch"], group["identified_on"])
               for group in cfg.get("new_candidate", [])}
    serial = 990000  # fictitious IDs as for every demo person (province 000), a range of their own
    for group in cfg.get("new_candidate", []):
        branch = models.Unit.get(models.Unit.code == group["branch"])
        for full_name, sex, born in group["candidates"]:
            serial += 1
            century = (0 if born.year < 2000 else 2) + (1 if sex == "F" else 0)
            citizen_id = f"000{century}{born.year % 100:02d}{serial:06d}"
            day = group["identified_on"]
            case_id = pipeline.open_case(organiser, branch.id, {"full_name": full_name, "sex": sex, "born": born,
                                                                "citizen_id": citizen_id},
                                         cfg["today"], identified_on=day,
                                         recommended_by=cfg["recommended_by"]["youth"])
            # the same rows on every load: the entry stamps are the day's, not the clock's
            stamp = datetime.datetime.combine(day, datetime.time(8))
            case = models.CaseFile.get_by_id(case_id)
            models.Person.update(created_at=stamp).where(models.Person.id == case.person_id).execute()
            models.CaseFile.update(opened_at=stamp).where(models.CaseFile.id == case_id).execute()
            models.Step.update(entered_at=stamp).where(models.Step.case == case_id).execute()
            # and, as every demo file, a party member of the branch to help the candidate
            models.Helper.create(case=case_id, person=helpers[group["branch"]], since=day)


def _helper_for(branch_code: str, day: Date) -> int:
    """The first (by name) official member of the branch on `day`."""
    A, M, P, U = models.Affiliation, models.Membership, models.Person, models.Unit
    return (P.select(P.id).join(A, on=(A.person == P.id)).join(U, on=(A.unit == U.id))
            .switch(P).join(M, on=(M.person == P.id))
            .where((U.code == branch_code) & (A.start <= day) & (A.end.is_null() | (A.end > day))
                   & (M.official_on <= day) & (M.ended_on.is_null() | (M.ended_on > day)))
            .order_by(P.sort_key, P.id).scalar())


def _load(login: str, force: bool) -> DemoSummary:
    with _transaction():
        if force:
            _wipe()
        elif not _is_empty():
            raise DemoError("not_empty")
        builder = Builder(_MemoWorkingDays())
        cfg = builder.cfg
        # accounts first: steps and changes record who entered them. Accounts already there
        # (`ketnap init` makes one) are kept as they are; a demo account named like the login
        # becomes the login's admin account.
        unit_codes = {row["code"]: number for number, row in enumerate(_csv("units.csv"), 1)}
        existing = dict(models.Account.select(models.Account.name, models.Account.id).tuples())
        next_id = max(existing.values(), default=0) + 1
        accounts: dict[str, int] = {}
        account_rows = []
        for spec in cfg["account"]:
            if spec["name"] in existing:
                accounts[spec["name"]] = existing[spec["name"]]
                continue
            mine = spec["name"] == login
            account_rows.append(dict(
                id=next_id, name=spec["name"], full_name=spec["full_name"],
                role="admin" if mine else spec["role"],
                unit=unit_codes[spec["unit"]] if spec.get("unit") and not mine else None,
                lang=None, disabled=False, created_at=datetime.datetime.combine(cfg["today"], datetime.time(8))))
            accounts[spec["name"]] = next_id
            next_id += 1
        rows = builder.build(accounts)
        for model in sort_models(models.ALL_MODELS):
            _bulk_insert(model, account_rows if model is models.Account else rows.get(model) or [])
        after_bulk_insert(models.database.obj)
        admin, _created = ensure_admin(login)
        set_setting("today", cfg["today"].isoformat())
        _new_candidates(cfg, accounts)
        set_setting("demo", "1")
        today = cfg["today"]
        M = models.Membership
        members = (M.select().where((M.ceremony_on <= today) & (M.ended_on.is_null() | (M.ended_on > today)))
                   .count())
        summary = DemoSummary(
            units=models.Unit.select().count(), people=models.Person.select().count(), members=members,
            cases=models.CaseFile.select().count(), classes=models.TrainingClass.select().count(),
            accounts=models.Account.select().count())
        audit.record(admin, "load_demo", "database", None, None, dataclasses.asdict(summary), None)
        refresh_due()  # the files' next actions stored, as a write transaction does
    return summary
