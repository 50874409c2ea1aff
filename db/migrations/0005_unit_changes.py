"""Reorganising units: a change knows whether the current columns already follow it
(`applied`: one recorded ahead of its effective day waits for it), a rename keeps the new name
beside the old one, and an open file's move to another branch is recorded (case_move), with a
trigger marking the file's stored next action stale (its branch on a day before the move was
the old one); and every file's next action computed."""

from peewee import BooleanField, CharField, DateField, ForeignKeyField, Model

from db import connection, worklist


def up(migrator, db):
    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class CaseFile(Model):
        class Meta:
            database = db
            table_name = 'case_file'

    class UnitChange(Model):
        class Meta:
            database = db
            table_name = 'unit_change'

    class CaseMove(Model):
        case = ForeignKeyField(CaseFile, on_delete='CASCADE', field=CaseFile.id)
        from_branch = ForeignKeyField(Unit, on_delete='RESTRICT', field=Unit.id)
        to_branch = ForeignKeyField(Unit, on_delete='RESTRICT', field=Unit.id)
        effective = DateField(index=True)
        change = ForeignKeyField(UnitChange, null=True, on_delete='RESTRICT', field=UnitChange.id)

        class Meta:
            database = db
            table_name = 'case_move'

    changes = {c.name for c in db.get_columns('unit_change')}
    parts = {c.name for c in db.get_columns('unit_change_part')}
    operations = []
    if 'applied' not in changes:
        operations.append(migrator.add_column('unit_change', 'applied', BooleanField(default=True)))
    if 'new_name' not in parts:
        operations.append(migrator.add_column('unit_change_part', 'new_name', CharField(null=True)))
    if operations:
        migrator.migrate(*operations)
    db.create_tables([CaseMove], safe=True)
    connection.install_cache_triggers(db)
    # the files marked stale (all of them, coming from before migration 0004) computed now: the
    # models are bound to this database before migrations run
    worklist.refresh_due()
