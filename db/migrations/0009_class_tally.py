"""Two more figures of the progress panels made cheap at a province's size:
- how many people a unit had sent to the year's awareness classes by a day (class_tally), kept
  once counted (it looks up the affiliation of every trainee) and removed by triggers when an
  enrolment, a class, an affiliation or the unit tree changes;
- the member counts of every unit of a day (the first panel of a day counts them all) read
  unit by unit from two covering indexes, with no sorting of a million rows."""

from peewee import CompositeKey, DateField, ForeignKeyField, IntegerField, Model

from db import connection


def up(migrator, db):
    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class ClassTally(Model):
        day = DateField()
        year = IntegerField()
        unit = ForeignKeyField(Unit, on_delete='CASCADE', index=True, field=Unit.id)
        sent = IntegerField()

        class Meta:
            database = db
            table_name = 'class_tally'
            primary_key = CompositeKey('day', 'year', 'unit')

    db.create_tables([ClassTally], safe=True)
    db.execute_sql('CREATE INDEX IF NOT EXISTS "affiliation_unit_id_start_end_person_id" '
                   'ON "affiliation" ("unit_id", "start", "end", "person_id")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "membership_person_id_ceremony_on_ended_on_official_on" '
                   'ON "membership" ("person_id", "ceremony_on", "ended_on", "official_on")')
    connection.install_cache_triggers(db)
