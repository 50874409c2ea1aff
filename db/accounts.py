"""Accounts: adding them, changing their role and scope, disabling them. Administrators only;
every change is one transaction with its audit entry."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from peewee import JOIN

from db import audit, models
from db.access import ROLES, SYSTEM, Actor, ensure_admin, require_admin
from db.connection import write_transaction

# A login name as the system and authorized_keys spell it.
NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
BRANCH_TYPES = ("branch", "grassroots_branch")


class AccountError(Exception):
    """A refused account change: `code` is bad_value, exists, not_found, needs_unit,
    not_a_branch, last_admin or self."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class AccountInfo:
    id: int
    name: str
    full_name: str | None
    role: str
    unit_id: int | None
    unit_code: str | None
    unit_name: str | None
    disabled: bool
    created_at: datetime.datetime


def list_accounts(actor: Actor, *, include_disabled: bool = True) -> list[AccountInfo]:
    """Every account (oldest first) with its scope; administrators only."""
    require_admin(actor)
    A, U = models.Account, models.Unit
    query = (A.select(A.id, A.name, A.full_name, A.role, A.unit, U.code, U.name, A.disabled, A.created_at)
             .join(U, JOIN.LEFT_OUTER, on=(A.unit == U.id)).order_by(A.id))
    if not include_disabled:
        query = query.where(A.disabled == False)  # noqa: E712
    return [AccountInfo(*row) for row in query.tuples()]


def _snapshot(account: models.Account) -> dict:
    return {"name": account.name, "full_name": account.full_name, "role": account.role,
            "unit": account.unit_id, "disabled": account.disabled}


def _check_role(role: str, unit_id: int | None) -> int | None:
    if role not in ROLES:
        raise AccountError("bad_value", field="role", value=role)
    if role == "admin":
        return None  # an administrator sees everything
    if unit_id is None:
        raise AccountError("needs_unit", role=role)
    unit = models.Unit.get_or_none(models.Unit.id == unit_id)
    if unit is None:
        raise AccountError("bad_value", field="unit", value=unit_id)
    if role == "secretary" and unit.org_type not in BRANCH_TYPES:
        raise AccountError("not_a_branch", unit=unit.name)
    return unit.id


def _active_admins() -> int:
    A = models.Account
    return A.select().where((A.role == "admin") & (A.disabled == False)).count()  # noqa: E712


def _get(name: str) -> models.Account:
    account = models.Account.get_or_none(models.Account.name == name)
    if account is None:
        raise AccountError("not_found", name=name)
    return account


def create_first_admin(login: str) -> Actor:
    """The administrator `ketnap init` makes of the login that ran it, on the audit trail."""
    with write_transaction():
        actor, created = ensure_admin(login)
        if created:
            account = models.Account.get_by_id(actor.account_id)
            audit.record(SYSTEM, "account_add", "account", account.id, None, _snapshot(account), None)
    return actor


def add(actor: Actor, name: str, role: str, unit_id: int | None, *,
        full_name: str | None = None) -> int:
    """Create an account; returns its id."""
    require_admin(actor)
    name = (name or "").strip()
    if not NAME.match(name):
        raise AccountError("bad_value", field="name", value=name)
    with write_transaction():
        unit_id = _check_role(role, unit_id)
        if models.Account.select().where(models.Account.name == name).exists():
            raise AccountError("exists", name=name)
        account = models.Account.create(name=name, role=role, unit=unit_id,
                                        full_name=(full_name or "").strip() or None)
        audit.record(actor, "account_add", "account", account.id, None, _snapshot(account), unit_id)
    return account.id


def set_role(actor: Actor, name: str, role: str, unit_id: int | None) -> None:
    """Change an account's role and scope (`unit_id`; ignored for an administrator)."""
    require_admin(actor)
    with write_transaction():
        account = _get(name)
        unit_id = _check_role(role, unit_id if unit_id is not None else account.unit_id)
        if account.role == "admin" and role != "admin" and not account.disabled and _active_admins() == 1:
            raise AccountError("last_admin", name=name)
        before = _snapshot(account)
        account.role, account.unit = role, unit_id
        account.save()
        audit.record(actor, "account_role", "account", account.id, before, _snapshot(account), unit_id)


def set_disabled(actor: Actor, name: str, disabled: bool = True) -> None:
    """Disable an account (it can no longer log in; its history stays) or enable it again."""
    require_admin(actor)
    with write_transaction():
        account = _get(name)
        if disabled and account.id == actor.account_id:
            raise AccountError("self", name=name)
        if account.disabled == disabled:
            return
        if disabled and account.role == "admin" and _active_admins() == 1:
            raise AccountError("last_admin", name=name)
        before = _snapshot(account)
        account.disabled = disabled
        account.save()
        audit.record(actor, "account_disable" if disabled else "account_enable", "account",
                     account.id, before, _snapshot(account), account.unit_id)

