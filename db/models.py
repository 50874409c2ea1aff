"""peewee models only. Codes stored in these tables are those of domain.md and interfaces.md.

The schema is created and changed by the numbered scripts in db/migrations; a test checks that
these models and the migrated schema agree.
"""

from __future__ import annotations

import datetime

from peewee import CharField as _CharField
from peewee import TextField as _TextField
from peewee import (
    BooleanField,
    CompositeKey,
    DatabaseProxy,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
)

from db.text import clean

database = DatabaseProxy()


class CharField(_CharField):
    """Text stored NFC-normalised, without control characters, spaces folded (db.text.clean)."""

    def db_value(self, value):
        return super().db_value(clean(value) if isinstance(value, str) else value)


class TextField(_TextField):
    """Multi-line text stored NFC-normalised, without control characters other than newline/tab."""

    def db_value(self, value):
        return super().db_value(clean(value, multiline=True) if isinstance(value, str) else value)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


# --- organisation -------------------------------------------------------------------------

class Unit(BaseModel):
    """A party organisation. Never deleted: it ends. Its parent over time is in UnitLink."""

    code = CharField(unique=True)
    name = CharField()
    name_folded = CharField(index=True)
    level = CharField(null=True)  # province / district / commune
    org_type = CharField()  # committee / grassroots_committee / grassroots_branch / sub_committee / branch
    category = CharField(null=True)  # village / residential / agency / school / ...
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    founded = DateField()
    ended = DateField(null=True)
    population = IntegerField(null=True)
    mountain = BooleanField(default=False)  # mountain / ethnic-minority area (education rule)
    decides_admissions = ForeignKeyField("self", null=True, on_delete="RESTRICT",
                                         backref="decides_for")
    sort_order = IntegerField(default=0)


class Account(BaseModel):
    name = CharField(unique=True)  # the operating-system login or the name in authorized_keys
    full_name = CharField(null=True)
    role = CharField()  # admin / organiser / secretary / viewer
    unit = ForeignKeyField(Unit, null=True, on_delete="RESTRICT")  # scope
    lang = CharField(null=True)
    disabled = BooleanField(default=False)
    created_at = DateTimeField(default=_now)


class UnitLink(BaseModel):
    """Which unit a unit sat under, from `start` up to (not including) `end`."""

    unit = ForeignKeyField(Unit, backref="links", on_delete="RESTRICT")
    parent = ForeignKeyField(Unit, null=True, backref="child_links", on_delete="RESTRICT")
    start = DateField()
    end = DateField(null=True)

    class Meta:
        indexes = ((("parent", "start"), False), (("unit", "start"), True))


class UnitChange(BaseModel):
    """A numbered decision that founds, renames, merges, splits, dissolves or transfers units."""

    kind = CharField()  # found / rename / merge / split / dissolve / transfer
    decision = CharField()
    decided = DateField()
    effective = DateField(index=True)
    note = TextField(null=True)
    entered_by = ForeignKeyField(Account, null=True, on_delete="RESTRICT")
    entered_at = DateTimeField(default=_now)
    applied = BooleanField(default=True)  # the current columns follow it (False: effective later)


class UnitChangePart(BaseModel):
    """A unit a change acted on (`source`) or produced or received into (`result`)."""

    change = ForeignKeyField(UnitChange, backref="parts", on_delete="CASCADE")
    unit = ForeignKeyField(Unit, backref="change_parts", on_delete="RESTRICT")
    role = CharField()  # source / result
    old_name = CharField(null=True)
    new_name = CharField(null=True)  # a rename: the name from the effective day


class Term(BaseModel):
    """A term of office (nhiệm kỳ), congress to congress."""

    name = CharField(unique=True)
    start = DateField()
    end = DateField()


class Target(BaseModel):
    """A target (chỉ tiêu). Rows are never changed: a new row supersedes the older for its key."""

    unit = ForeignKeyField(Unit, backref="targets", on_delete="RESTRICT")
    year = IntegerField(null=True)  # a yearly target
    term = ForeignKeyField(Term, null=True, on_delete="RESTRICT")  # a term's yearly average
    value = IntegerField()
    set_on = DateField()
    set_by = ForeignKeyField(Account, null=True, on_delete="RESTRICT")
    note = TextField(null=True)

    class Meta:
        indexes = ((("unit", "year"), False),)


# --- people -------------------------------------------------------------------------------

class Person(BaseModel):
    full_name = CharField()
    name_folded = CharField(index=True)
    sort_key = CharField(index=True)
    other_name = CharField(null=True)
    other_folded = CharField(null=True)
    sex = CharField(null=True)  # F / M
    born = DateField(null=True)
    ethnicity = CharField(null=True)
    religion = CharField(null=True)
    home_town = CharField(null=True)
    residence = CharField(null=True)
    citizen_id = CharField(null=True, unique=True)
    phone = CharField(null=True, index=True)
    education = CharField(null=True)  # "9/12", "12/12", "7/10"
    qualification = CharField(null=True)
    theory_level = CharField(null=True)
    occupation = CharField(null=True)
    workplace = CharField(null=True)
    youth_union = BooleanField(default=False)
    trade_union = BooleanField(default=False)
    public_role = CharField(null=True)  # for public officials shown by role only
    branch = ForeignKeyField(Unit, null=True, backref="people", on_delete="RESTRICT")
    created_at = DateTimeField(default=_now)
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("branch", "sort_key"), False),)


class Affiliation(BaseModel):
    """Which branch a person belonged to (sinh hoạt), from `start` up to (not including) `end`."""

    person = ForeignKeyField(Person, backref="affiliations", on_delete="RESTRICT")
    unit = ForeignKeyField(Unit, backref="affiliations", on_delete="RESTRICT")
    start = DateField()
    end = DateField(null=True)

    class Meta:
        # the last two: every column the member counts read, so that they read the index alone
        # (by person for a few units, by unit for every unit at once)
        indexes = ((("unit", "start"), False), (("person", "start"), False),
                   (("person", "start", "end", "unit"), False), (("unit", "start", "end", "person"), False))


# --- candidate files ----------------------------------------------------------------------

class CaseFile(BaseModel):
    """One attempt at admission (hồ sơ). Its stage is the last step recorded (cached here)."""

    person = ForeignKeyField(Person, backref="cases", on_delete="RESTRICT")
    branch = ForeignKeyField(Unit, backref="cases", on_delete="RESTRICT")
    stage = CharField(index=True)
    status = CharField(default="open", index=True)  # open / closed
    on_hold = BooleanField(default=False)
    hold_reason = TextField(null=True)
    outcome = CharField(null=True)  # withdrawn / rejected / moved / deceased / struck_off / decision_cancelled
    closed_on = DateField(null=True)
    close_reason = TextField(null=True)
    recommended_by = CharField(null=True)  # the mass organisation that recommended the person
    readmission = BooleanField(default=False)
    legacy = BooleanField(default=False)
    opened_at = DateTimeField(default=_now)
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("branch", "status", "stage"), False), (("status", "stage"), False))

    @classmethod
    def is_open(cls):
        """The condition of an open file: not closed, and not finished (recognised official)."""
        return (cls.status == "open") & (cls.stage != "official")


class CaseDue(BaseModel):
    """A file's next action and due date as last computed from all its records (db.worklist),
    so that lists and counts of today need not recompute every file.

    `settled` is the latest date found in the file's records: the row answers for any day on or
    after it. Triggers (db.connection.install_cache_triggers) set `stale` whenever a record the
    computation reads changes; a stale row, or a missing one, is recomputed (db.worklist)."""

    case = ForeignKeyField(CaseFile, primary_key=True, on_delete="CASCADE")
    stale = BooleanField(default=True, index=True)
    action = CharField(null=True)
    due = DateField(null=True, index=True)
    settled = DateField(null=True, index=True)
    # the branch that voted the admission (its live branch_approved step's unit), for the
    # progress figures' count of decisions per branch; None: no such step
    voted_branch = IntegerField(null=True)


class Membership(BaseModel):
    """One admission to the Party and what followed. A re-admission is a new row."""

    person = ForeignKeyField(Person, backref="memberships", on_delete="RESTRICT")
    case = ForeignKeyField(CaseFile, null=True, on_delete="RESTRICT")
    admitted_on = DateField(index=True)  # decision date: party seniority counts from here
    ceremony_on = DateField(null=True, index=True)  # member (probationary) from here
    official_on = DateField(null=True)  # ceremony + 12 months, once recognised
    card_number = CharField(null=True)
    record_number = CharField(null=True)
    ended_on = DateField(null=True)
    end_reason = CharField(null=True)  # deceased / struck_off / moved_out / ...

    class Meta:
        # every column the member counts read, so that they read the index alone (by day for a
        # few units, by person for every unit at once)
        indexes = ((("ceremony_on", "ended_on", "official_on", "person"), False),
                   (("person", "ceremony_on", "ended_on", "official_on"), False))


class CaseMove(BaseModel):
    """An open file moved to another branch by a reorganisation, from `effective` (db.reorganise):
    before that day the file was `from_branch`'s."""

    case = ForeignKeyField(CaseFile, backref="moves", on_delete="CASCADE")
    from_branch = ForeignKeyField(Unit, on_delete="RESTRICT")
    to_branch = ForeignKeyField(Unit, on_delete="RESTRICT")
    effective = DateField(index=True)
    change = ForeignKeyField(UnitChange, null=True, on_delete="RESTRICT")


class MemberTally(BaseModel):
    """How many members a unit had on a day (official, probationary), kept once counted so that
    a province's panel need not count a million memberships again. Triggers
    (db.connection.install_cache_triggers) remove a unit's rows when a membership or an
    affiliation touching it changes; a missing row is counted again (db.progress)."""

    day = DateField()
    unit = ForeignKeyField(Unit, on_delete="CASCADE", index=True)
    official = IntegerField()
    probationary = IntegerField()

    class Meta:
        primary_key = CompositeKey("day", "unit")


class ClassTally(BaseModel):
    """How many people a unit had sent to the year's awareness classes by a day (the panel's
    `sent_to_class`), kept once counted: counting them looks up the affiliation of each of a
    province's tens of thousands of trainees. Triggers (db.connection.install_cache_triggers)
    remove every row when an enrolment, a class, an affiliation or the unit tree changes; a
    missing row is counted again (db.progress)."""

    day = DateField()
    year = IntegerField()
    unit = ForeignKeyField(Unit, on_delete="CASCADE", index=True)
    sent = IntegerField()

    class Meta:
        primary_key = CompositeKey("day", "year", "unit")


class Step(BaseModel):
    """A recorded step of a file. An undone step stays, marked undone with the reason."""

    case = ForeignKeyField(CaseFile, backref="steps", on_delete="RESTRICT")
    seq = IntegerField()
    stage = CharField()
    date = DateField(index=True)
    unit = ForeignKeyField(Unit, on_delete="RESTRICT")  # the unit that acted, at the time
    received = DateField(null=True)  # admitted: the day the branch received the decision
    extension = BooleanField(default=False)  # decision deadline extended by 30 working days
    details = TextField(null=True)  # JSON of the step's own data not held in columns
    entered_by = ForeignKeyField(Account, null=True, on_delete="RESTRICT")
    entered_at = DateTimeField(default=_now)
    undone_at = DateTimeField(null=True)
    undo_reason = TextField(null=True)

    class Meta:
        # the last two hold every column the progress figures read (the decisions of a period,
        # and a file's branch vote), so that those reads stay in the index
        indexes = ((("case", "seq"), True), (("stage", "date", "undone_at", "case"), False),
                   (("case", "stage", "undone_at", "unit"), False))


class CaseEvent(BaseModel):
    """What happens to a file besides steps: vote_failed, hold, release, close, reopen, undo, override."""

    case = ForeignKeyField(CaseFile, backref="events", on_delete="RESTRICT")
    kind = CharField()
    date = DateField()
    reason = TextField(null=True)
    details = TextField(null=True)
    entered_by = ForeignKeyField(Account, null=True, on_delete="RESTRICT")
    entered_at = DateTimeField(default=_now)


class Resolution(BaseModel):
    """A resolution or decision with its number, date and (for votes) the count."""

    step = ForeignKeyField(Step, backref="resolutions", on_delete="RESTRICT")
    kind = CharField()  # branch_resolution / committee_resolution / decision
    number = CharField(null=True)
    date = DateField()
    votes_for = IntegerField(null=True)
    votes_convened = IntegerField(null=True)
    votes_excused = IntegerField(null=True)


class Document(BaseModel):
    case = ForeignKeyField(CaseFile, backref="documents", on_delete="RESTRICT")
    kind = CharField()  # application_letter / background_form / ... (interfaces.md)
    received = DateField()
    note = TextField(null=True)


class Introducer(BaseModel):
    case = ForeignKeyField(CaseFile, backref="introducers", on_delete="RESTRICT")
    kind = CharField()  # member / youth_union / trade_union
    person = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    resolution = CharField(null=True)
    date = DateField()
    together_since = DateField(null=True)
    replacement = BooleanField(default=False)
    snapshot = TextField(null=True)  # JSON, for an introducer not in this database


class Helper(BaseModel):
    """A helping member (đảng viên giúp đỡ) assigned to a file."""

    case = ForeignKeyField(CaseFile, backref="helpers", on_delete="RESTRICT")
    person = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    since = DateField()
    snapshot = TextField(null=True)


# --- classes ------------------------------------------------------------------------------

class TrainingClass(BaseModel):
    kind = CharField()  # awareness / new_member
    name = CharField()
    organiser = CharField()  # the political training centre
    unit = ForeignKeyField(Unit, backref="classes", on_delete="RESTRICT")  # the unit that planned it
    year = IntegerField(index=True)
    planned_start = DateField()
    start = DateField(null=True)
    end = DateField(null=True)
    place = CharField(null=True)
    capacity = IntegerField(null=True)
    status = CharField(default="planned")  # planned / running / finished / cancelled


class ClassPlan(BaseModel):
    """A unit's plan for a year: how many classes of a kind, how many trainees."""

    unit = ForeignKeyField(Unit, on_delete="RESTRICT")
    year = IntegerField()
    kind = CharField()
    classes = IntegerField()
    trainees = IntegerField(null=True)

    class Meta:
        indexes = ((("unit", "year", "kind"), True),)


class Certificate(BaseModel):
    """An awareness-class or new-member-class certificate."""

    person = ForeignKeyField(Person, backref="certificates", on_delete="RESTRICT")
    kind = CharField()  # awareness / new_member
    number = CharField()
    issued = DateField()
    issuer = CharField()
    training_class = ForeignKeyField(TrainingClass, null=True, on_delete="RESTRICT")

    class Meta:
        indexes = ((("kind", "issuer", "number"), True),)


class Enrolment(BaseModel):
    training_class = ForeignKeyField(TrainingClass, backref="enrolments", on_delete="RESTRICT")
    person = ForeignKeyField(Person, backref="enrolments", on_delete="RESTRICT")
    case = ForeignKeyField(CaseFile, null=True, on_delete="RESTRICT")
    enrolled_on = DateField()
    result = CharField(null=True)  # passed / failed / left
    certificate = ForeignKeyField(Certificate, null=True, on_delete="RESTRICT")

    class Meta:
        indexes = ((("training_class", "person"), True),)


# --- accounts, audit, settings ------------------------------------------------------------

class AuditEntry(BaseModel):
    """Append-only log of every change (and every opening of a person's background)."""

    at = DateTimeField(default=_now, index=True)
    account = ForeignKeyField(Account, null=True, on_delete="RESTRICT")
    action = CharField()
    entity = CharField()
    entity_id = IntegerField(null=True)
    unit = ForeignKeyField(Unit, null=True, on_delete="RESTRICT")
    person = ForeignKeyField(Person, null=True, on_delete="RESTRICT", index=True)  # whose data
    before = TextField(null=True)
    after = TextField(null=True)
    prev_hash = CharField(null=True)
    hash = CharField(null=True)

    class Meta:
        indexes = ((("entity", "entity_id"), False),)


class Setting(BaseModel):
    key = CharField(primary_key=True)
    value = TextField()


# the setting whose value changes (by trigger, db.connection) with every change of the unit
# tree: a reader may keep the tree while it stays the same
TREE_VERSION = "tree_version"


class WorkdayException(BaseModel):
    """A day the holidays package does not know: an extra day off, or a Saturday worked."""

    date = DateField(unique=True)
    kind = CharField()  # off / work
    note = TextField(null=True)


ALL_MODELS = [
    Unit, UnitLink, UnitChange, UnitChangePart, Term, Target,
    Person, Affiliation, Membership,
    CaseFile, CaseDue, CaseMove, MemberTally, ClassTally,
    Step, CaseEvent, Resolution, Document, Introducer, Helper, Certificate,
    TrainingClass, ClassPlan, Enrolment,
    Account, AuditEntry, Setting, WorkdayException,
]
