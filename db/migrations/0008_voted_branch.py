"""Each file's stored figures (case_due) also keep the branch that voted its admission: the
progress panels count a period's decisions per voting branch, and finding that branch anew for
each of a province's tens of thousands of decisions was most of a panel's time."""

from peewee import IntegerField


def up(migrator, db):
    if 'voted_branch' not in {c.name for c in db.get_columns('case_due')}:  # run again: kept
        migrator.migrate(migrator.add_column('case_due', 'voted_branch', IntegerField(null=True)))
    db.execute_sql("UPDATE case_due SET voted_branch = (SELECT max(s.unit_id) FROM step s "
                   "WHERE s.case_id = case_due.case_id AND s.stage = 'branch_approved' "
                   "AND s.undone_at IS NULL)")
