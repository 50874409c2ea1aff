"""An index on the audit trail by what was changed (entity, entity_id): a save refused because
the file changed since it was read says who changed what, without reading the whole trail."""


def up(migrator, db):
    db.execute_sql('CREATE INDEX IF NOT EXISTS "auditentry_entity_entity_id" '
                   'ON "audit_entry" ("entity", "entity_id")')
