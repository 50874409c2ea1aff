"""The audit trail becomes a hash chain: each entry records whose data it touched (`person_id`)
and the hash linking it to the previous entry; triggers refuse to update or delete entries."""

from peewee import ForeignKeyField, Model

from db import audit, connection


def up(migrator, db):
    class Person(Model):
        class Meta:
            database = db
            table_name = 'person'

    person = ForeignKeyField(Person, null=True, on_delete='RESTRICT', field=Person.id)
    if 'person_id' not in {c.name for c in db.get_columns('audit_entry')}:  # run again: kept
        migrator.migrate(migrator.add_column('audit_entry', 'person_id', person))  # indexed too
    connection.drop_append_only(db)
    # entries written before the chain existed get their hashes now, in order
    rows = db.execute_sql(
        "SELECT a.id, a.at, a.account_id, a.action, a.entity, a.entity_id, a.unit_id, "
        "CASE a.entity WHEN 'person' THEN a.entity_id "
        "WHEN 'case_file' THEN (SELECT c.person_id FROM case_file c WHERE c.id = a.entity_id) END, "
        "a.before, a.after FROM audit_entry a ORDER BY a.id").fetchall()
    prev = None
    for entry_id, at, account, action, entity, entity_id, unit, person_id, before, after in rows:
        stamp = audit.parse_stamp(at)
        entry_hash = audit.digest(entry_id, stamp, account, action, entity, entity_id, unit,
                                  person_id, before, after, prev)
        db.execute_sql("UPDATE audit_entry SET person_id = {0}, prev_hash = {0}, hash = {0} WHERE id = {0}"
                       .format(db.param),
                       (person_id, prev, entry_hash, entry_id))
        prev = entry_hash
    connection.install_append_only(db)
