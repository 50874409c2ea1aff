"""The change log: one append-only AuditEntry row per change, written inside the change's own
transaction so that a change and its entry stand or fall together.

Entries are only ever inserted, never updated or deleted. The hash chain (`prev_hash`, `hash`)
is not computed yet: both columns are left NULL until the chain is introduced, and the
integrity check must treat NULL as "written before the chain existed".
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from db import models
from db.access import Actor


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_default)


def _default(value: Any):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def record(actor: Actor, action: str, entity: str, entity_id: int | None,
           before: Any, after: Any, unit_id: int | None) -> int:
    """Append one entry (who, what, before/after as JSON); returns its id."""
    entry = models.AuditEntry.create(
        account=actor.account_id, action=action, entity=entity, entity_id=entity_id,
        unit=unit_id, before=_json(before), after=_json(after))
    return entry.id
