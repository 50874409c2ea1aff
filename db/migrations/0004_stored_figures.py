"""Figures kept between reads, each with the triggers that keep it honest:
- each file's next action and due date (case_due), marked stale when a record the computation
  reads changes, so that a work list or an overdue count of today need not recompute every file;
- each unit's member counts per day (member_tally), removed when a membership or affiliation
  touching the unit changes;
- a token that changes with the unit tree (setting `tree_version`);
and indexes that the member counts read alone."""

from peewee import BooleanField, CharField, CompositeKey, DateField, ForeignKeyField, IntegerField, Model

from db import connection


def up(migrator, db):
    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class CaseFile(Model):
        class Meta:
            database = db
            table_name = 'case_file'

    class CaseDue(Model):
        case = ForeignKeyField(CaseFile, primary_key=True, on_delete='CASCADE', field=CaseFile.id)
        stale = BooleanField(default=True, index=True)
        action = CharField(null=True)
        due = DateField(null=True, index=True)
        settled = DateField(null=True, index=True)

        class Meta:
            database = db
            table_name = 'case_due'

    class MemberTally(Model):
        day = DateField()
        unit = ForeignKeyField(Unit, on_delete='CASCADE', index=True, field=Unit.id)
        official = IntegerField()
        probationary = IntegerField()

        class Meta:
            database = db
            table_name = 'member_tally'
            primary_key = CompositeKey('day', 'unit')

    db.create_tables([CaseDue, MemberTally], safe=True)
    db.execute_sql('CREATE INDEX IF NOT EXISTS "membership_ceremony_on_ended_on_official_on_person_id" '
                   'ON "membership" ("ceremony_on", "ended_on", "official_on", "person_id")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "affiliation_person_id_start_end_unit_id" '
                   'ON "affiliation" ("person_id", "start", "end", "unit_id")')
    db.execute_sql('DROP INDEX IF EXISTS "step_stage_date"')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "step_stage_date_undone_at_case_id" '
                   'ON "step" ("stage", "date", "undone_at", "case_id")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "step_case_id_stage_undone_at_unit_id" '
                   'ON "step" ("case_id", "stage", "undone_at", "unit_id")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "casefile_status_stage" ON "case_file" ("status", "stage")')
    connection.install_cache_triggers(db)
    connection.new_tree_version(db)
    # every file marked stale: computed by migration 0005, once the moves it reads are recorded
    db.execute_sql("INSERT INTO case_due (case_id, stale) SELECT id, TRUE FROM case_file WHERE TRUE "
                   "ON CONFLICT DO NOTHING")  # (the WHERE: how SQLite tells the upsert from a join)
