"""The first schema: every table of db/models.py as of the first release (a frozen copy)."""
# Python-side defaults (timestamps) are not part of the schema and are left out here.

from peewee import *


def up(migrator, db):
    class Unit(Model):
        code = CharField(unique=True)
        name = CharField()
        name_folded = CharField(index=True)
        level = CharField(null=True)
        org_type = CharField()
        category = CharField(null=True)
        parent = ForeignKeyField('self', null=True, on_delete='RESTRICT')
        founded = DateField()
        ended = DateField(null=True)
        population = IntegerField(null=True)
        mountain = BooleanField(default=False)
        decides_admissions = ForeignKeyField('self', null=True, on_delete='RESTRICT')
        sort_order = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'unit'
    db.create_tables([Unit])

    class Account(Model):
        name = CharField(unique=True)
        full_name = CharField(null=True)
        role = CharField()
        unit = ForeignKeyField(Unit, null=True, on_delete='RESTRICT')
        lang = CharField(null=True)
        disabled = BooleanField(default=False)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'account'
    db.create_tables([Account])

    class Person(Model):
        full_name = CharField()
        name_folded = CharField(index=True)
        sort_key = CharField(index=True)
        other_name = CharField(null=True)
        other_folded = CharField(null=True)
        sex = CharField(null=True)
        born = DateField(null=True)
        ethnicity = CharField(null=True)
        religion = CharField(null=True)
        home_town = CharField(null=True)
        residence = CharField(null=True)
        citizen_id = CharField(unique=True, null=True)
        phone = CharField(index=True, null=True)
        education = CharField(null=True)
        qualification = CharField(null=True)
        theory_level = CharField(null=True)
        occupation = CharField(null=True)
        workplace = CharField(null=True)
        youth_union = BooleanField(default=False)
        trade_union = BooleanField(default=False)
        public_role = CharField(null=True)
        branch = ForeignKeyField(Unit, null=True, on_delete='RESTRICT')
        created_at = DateTimeField()
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'person'
            indexes = ((('branch', 'sort_key'), False),)
    db.create_tables([Person])

    class Affiliation(Model):
        person = ForeignKeyField(Person, on_delete='RESTRICT')
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        start = DateField()
        end = DateField(null=True)
        class Meta:
            database = db
            table_name = 'affiliation'
            indexes = ((('unit', 'start'), False), (('person', 'start'), False))
    db.create_tables([Affiliation])

    class AuditEntry(Model):
        at = DateTimeField(index=True)
        account = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        action = CharField()
        entity = CharField()
        entity_id = IntegerField(null=True)
        unit = ForeignKeyField(Unit, null=True, on_delete='RESTRICT')
        before = TextField(null=True)
        after = TextField(null=True)
        prev_hash = CharField(null=True)
        hash = CharField(null=True)
        class Meta:
            database = db
            table_name = 'audit_entry'
    db.create_tables([AuditEntry])

    class CaseFile(Model):
        person = ForeignKeyField(Person, on_delete='RESTRICT')
        branch = ForeignKeyField(Unit, on_delete='RESTRICT')
        stage = CharField(index=True)
        status = CharField(index=True, default='open')
        on_hold = BooleanField(default=False)
        hold_reason = TextField(null=True)
        outcome = CharField(null=True)
        closed_on = DateField(null=True)
        close_reason = TextField(null=True)
        recommended_by = CharField(null=True)
        readmission = BooleanField(default=False)
        legacy = BooleanField(default=False)
        opened_at = DateTimeField()
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'case_file'
            indexes = ((('branch', 'status', 'stage'), False),)
    db.create_tables([CaseFile])

    class CaseEvent(Model):
        case = ForeignKeyField(CaseFile, on_delete='RESTRICT')
        kind = CharField()
        date = DateField()
        reason = TextField(null=True)
        details = TextField(null=True)
        entered_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        entered_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'case_event'
    db.create_tables([CaseEvent])

    class TrainingClass(Model):
        kind = CharField()
        name = CharField()
        organiser = CharField()
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        year = IntegerField(index=True)
        planned_start = DateField()
        start = DateField(null=True)
        end = DateField(null=True)
        place = CharField(null=True)
        capacity = IntegerField(null=True)
        status = CharField(default='planned')
        class Meta:
            database = db
            table_name = 'training_class'
    db.create_tables([TrainingClass])

    class Certificate(Model):
        person = ForeignKeyField(Person, on_delete='RESTRICT')
        kind = CharField()
        number = CharField()
        issued = DateField()
        issuer = CharField()
        training_class = ForeignKeyField(TrainingClass, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'certificate'
            indexes = ((('kind', 'issuer', 'number'), True),)
    db.create_tables([Certificate])

    class ClassPlan(Model):
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        year = IntegerField()
        kind = CharField()
        classes = IntegerField()
        trainees = IntegerField(null=True)
        class Meta:
            database = db
            table_name = 'class_plan'
            indexes = ((('unit', 'year', 'kind'), True),)
    db.create_tables([ClassPlan])

    class Document(Model):
        case = ForeignKeyField(CaseFile, on_delete='RESTRICT')
        kind = CharField()
        received = DateField()
        note = TextField(null=True)
        class Meta:
            database = db
            table_name = 'document'
    db.create_tables([Document])

    class Enrolment(Model):
        training_class = ForeignKeyField(TrainingClass, on_delete='RESTRICT')
        person = ForeignKeyField(Person, on_delete='RESTRICT')
        case = ForeignKeyField(CaseFile, null=True, on_delete='RESTRICT')
        enrolled_on = DateField()
        result = CharField(null=True)
        certificate = ForeignKeyField(Certificate, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'enrolment'
            indexes = ((('training_class', 'person'), True),)
    db.create_tables([Enrolment])

    class Helper(Model):
        case = ForeignKeyField(CaseFile, on_delete='RESTRICT')
        person = ForeignKeyField(Person, null=True, on_delete='RESTRICT')
        since = DateField()
        snapshot = TextField(null=True)
        class Meta:
            database = db
            table_name = 'helper'
    db.create_tables([Helper])

    class Introducer(Model):
        case = ForeignKeyField(CaseFile, on_delete='RESTRICT')
        kind = CharField()
        person = ForeignKeyField(Person, null=True, on_delete='RESTRICT')
        resolution = CharField(null=True)
        date = DateField()
        together_since = DateField(null=True)
        replacement = BooleanField(default=False)
        snapshot = TextField(null=True)
        class Meta:
            database = db
            table_name = 'introducer'
    db.create_tables([Introducer])

    class Membership(Model):
        person = ForeignKeyField(Person, on_delete='RESTRICT')
        case = ForeignKeyField(CaseFile, null=True, on_delete='RESTRICT')
        admitted_on = DateField(index=True)
        ceremony_on = DateField(index=True, null=True)
        official_on = DateField(null=True)
        card_number = CharField(null=True)
        record_number = CharField(null=True)
        ended_on = DateField(null=True)
        end_reason = CharField(null=True)
        class Meta:
            database = db
            table_name = 'membership'
    db.create_tables([Membership])

    class Step(Model):
        case = ForeignKeyField(CaseFile, on_delete='RESTRICT')
        seq = IntegerField()
        stage = CharField()
        date = DateField(index=True)
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        received = DateField(null=True)
        extension = BooleanField(default=False)
        details = TextField(null=True)
        entered_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        entered_at = DateTimeField()
        undone_at = DateTimeField(null=True)
        undo_reason = TextField(null=True)
        class Meta:
            database = db
            table_name = 'step'
            indexes = ((('case', 'seq'), True), (('stage', 'date'), False))
    db.create_tables([Step])

    class Resolution(Model):
        step = ForeignKeyField(Step, on_delete='RESTRICT')
        kind = CharField()
        number = CharField(null=True)
        date = DateField()
        votes_for = IntegerField(null=True)
        votes_convened = IntegerField(null=True)
        votes_excused = IntegerField(null=True)
        class Meta:
            database = db
            table_name = 'resolution'
    db.create_tables([Resolution])

    class Setting(Model):
        key = CharField(primary_key=True)
        value = TextField()
        class Meta:
            database = db
            table_name = 'setting'
    db.create_tables([Setting])

    class Term(Model):
        name = CharField(unique=True)
        start = DateField()
        end = DateField()
        class Meta:
            database = db
            table_name = 'term'
    db.create_tables([Term])

    class Target(Model):
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        year = IntegerField(null=True)
        term = ForeignKeyField(Term, null=True, on_delete='RESTRICT')
        value = IntegerField()
        set_on = DateField()
        set_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        note = TextField(null=True)
        class Meta:
            database = db
            table_name = 'target'
            indexes = ((('unit', 'year'), False),)
    db.create_tables([Target])

    class UnitChange(Model):
        kind = CharField()
        decision = CharField()
        decided = DateField()
        effective = DateField(index=True)
        note = TextField(null=True)
        entered_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        entered_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'unit_change'
    db.create_tables([UnitChange])

    class UnitChangePart(Model):
        change = ForeignKeyField(UnitChange, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        role = CharField()
        old_name = CharField(null=True)
        class Meta:
            database = db
            table_name = 'unit_change_part'
    db.create_tables([UnitChangePart])

    class UnitLink(Model):
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        parent = ForeignKeyField(Unit, null=True, on_delete='RESTRICT')
        start = DateField()
        end = DateField(null=True)
        class Meta:
            database = db
            table_name = 'unit_link'
            indexes = ((('parent', 'start'), False), (('unit', 'start'), True))
    db.create_tables([UnitLink])

    class WorkdayException(Model):
        date = DateField(unique=True)
        kind = CharField()
        note = TextField(null=True)
        class Meta:
            database = db
            table_name = 'workday_exception'
    db.create_tables([WorkdayException])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('workday_exception'))
    migrator.migrate(migrator.drop_table('unit_link'))
    migrator.migrate(migrator.drop_table('unit_change_part'))
    migrator.migrate(migrator.drop_table('unit_change'))
    migrator.migrate(migrator.drop_table('target'))
    migrator.migrate(migrator.drop_table('term'))
    migrator.migrate(migrator.drop_table('setting'))
    migrator.migrate(migrator.drop_table('resolution'))
    migrator.migrate(migrator.drop_table('step'))
    migrator.migrate(migrator.drop_table('membership'))
    migrator.migrate(migrator.drop_table('introducer'))
    migrator.migrate(migrator.drop_table('helper'))
    migrator.migrate(migrator.drop_table('enrolment'))
    migrator.migrate(migrator.drop_table('document'))
    migrator.migrate(migrator.drop_table('class_plan'))
    migrator.migrate(migrator.drop_table('certificate'))
    migrator.migrate(migrator.drop_table('training_class'))
    migrator.migrate(migrator.drop_table('case_event'))
    migrator.migrate(migrator.drop_table('case_file'))
    migrator.migrate(migrator.drop_table('audit_entry'))
    migrator.migrate(migrator.drop_table('affiliation'))
    migrator.migrate(migrator.drop_table('person'))
    migrator.migrate(migrator.drop_table('account'))
    migrator.migrate(migrator.drop_table('unit'))
