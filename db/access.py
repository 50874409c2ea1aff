"""Who is acting, and which units they may see.

Every function in db that reads or writes takes an `Actor`. Scope rules live here alone, so that
enforcing them is one place, not every call site.
"""

from __future__ import annotations

import getpass
import os
import pwd
from dataclasses import dataclass

from peewee import JOIN

from db import models

ROLES = ("admin", "organiser", "secretary", "viewer")


class AccessError(Exception):
    """Refused: `code` is one of interfaces.md's error codes (no_account, forbidden)."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


class NotFound(Exception):
    """No such record, or not one the actor may see (`not_found`): the two are not told apart."""

    code = "not_found"


@dataclass(frozen=True)
class Actor:
    account_id: int | None
    name: str
    role: str
    unit_id: int | None  # the root of the account's scope; None: everything
    lang: str | None = None
    # a read-only session (`ketnap --readonly`): whatever the role, nothing may be changed
    readonly: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# Used by db functions that run before any account exists (init, demo loading, migrations).
SYSTEM = Actor(account_id=None, name="system", role="admin", unit_id=None)


def os_login() -> str:
    """The real uid's login name (not $USER, which a caller can set)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return getpass.getuser()


def _actor(account: models.Account) -> Actor:
    return Actor(account.id, account.name, account.role, account.unit_id, account.lang)


def account_actor(name: str) -> Actor:
    account = models.Account.get_or_none(models.Account.name == name)
    if account is None or account.disabled:
        raise AccessError("no_account", name=name, disabled=account is not None)
    return _actor(account)


def resolve_actor(requested: str | None, *, login: str | None = None,
                  demo: bool = False, forced_command: bool = False) -> Actor:
    """The account this process acts as (interfaces.md, `--user`).

    Without `requested`: the operating-system login's account. With it: honoured for an admin
    login, for the service account's forced command, or on a demo database; refused otherwise.
    """
    login = login or os_login()
    if not requested or requested == login:
        return account_actor(login)
    if forced_command or demo:
        return account_actor(requested)
    own = account_actor(login)
    if not own.is_admin:
        raise AccessError("forbidden", name=requested)
    return account_actor(requested)


def ensure_admin(login: str, full_name: str | None = None) -> tuple[Actor, bool]:
    """The admin account for `login`, created when missing. Returns (actor, created)."""
    account, created = models.Account.get_or_create(
        name=login, defaults={"role": "admin", "full_name": full_name})
    return _actor(account), created


def may_see_background(actor: Actor) -> bool:
    """A person's background (birth date, IDs, family, history, notes) is for every role but
    the viewer's (domain.md section 7). Every opening of one is on the audit trail, which a
    read-only session cannot write: such a session sees people as a viewer does."""
    return actor.role != "viewer" and not actor.readonly


def may_override(actor: Actor) -> bool:
    """Saving a step past warnings is for administrators and organisers."""
    return actor.role in ("admin", "organiser") and not actor.readonly


def may_write(actor: Actor) -> bool:
    return actor.role != "viewer" and not actor.readonly


def may_manage_accounts(actor: Actor) -> bool:
    """Adding and changing accounts: administrators, in a session that may write."""
    return actor.is_admin and not actor.readonly


def refuse_readonly(actor: Actor) -> None:
    """`forbidden` (with `readonly`) for a read-only session: called before any change."""
    if actor.readonly:
        raise AccessError("forbidden", readonly=True, name=actor.name)


def read_only_actor(actor: Actor) -> Actor:
    """The same account in a read-only session."""
    from dataclasses import replace

    return replace(actor, readonly=True)


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise AccessError("forbidden", role=actor.role)


def scope_root(actor: Actor) -> int | None:
    """The unit below which the actor sees everything (None: the whole database)."""
    return None if actor.is_admin else actor.unit_id


@dataclass(frozen=True)
class AccountRow:
    name: str
    full_name: str | None
    role: str
    unit_name: str | None  # the scope's unit; None: everything


def has_accounts() -> bool:
    return models.Account.select().exists()


def has_active_account(name: str) -> bool:
    return models.Account.select().where(
        (models.Account.name == name) & (models.Account.disabled == False)).exists()  # noqa: E712


def first_admin() -> Actor | None:
    """The oldest active administrator account (a demo database lends it to any login)."""
    A = models.Account
    account = (A.select().where((A.role == "admin") & (A.disabled == False))  # noqa: E712
               .order_by(A.id).first())
    return _actor(account) if account is not None else None


def active_accounts() -> list[AccountRow]:
    """Every active account with its scope's name, oldest first."""
    A, U = models.Account, models.Unit
    rows = (A.select(A.name, A.full_name, A.role, U.name)
            .join(U, JOIN.LEFT_OUTER, on=(A.unit == U.id))
            .where(A.disabled == False).order_by(A.id).tuples())  # noqa: E712
    return [AccountRow(*row) for row in rows]
