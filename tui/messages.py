"""Pipeline refusals as sentences in the user's language, shared by the CLI and the screens.

A `Violation` (or a `PipelineError`) carries a code and params; `rule_message` picks the
sentence for the code in tui/locale/rules.toml (a variant when the params tell a different
story) and fills it in: dates dd/mm/yyyy, stage, document and field codes by their names.
The result is plain text: show it with markup off.
"""

from __future__ import annotations

import datetime
import string

from db.text import printable
from tui import i18n
from tui.i18n import t

_RULE_DATES = frozenset({"date", "previous", "today", "received", "issued", "valid_through",
                         "ceremony", "official_on", "ended", "due", "resolution_date"})


def safe(value) -> str:
    """`value` as text fit for a terminal: no control characters (newline and tab kept)."""
    if value is None:
        return ""
    return printable(str(value))


def _rule_variant(code: str, params: dict) -> str | None:
    """The message for a code whose params tell a different story (see rules.toml)."""
    if code == "age_under_18" and params.get("missing"):
        return "age_under_18_missing"
    if code == "vote_below_two_thirds" and "needed" not in params:
        return "vote_below_two_thirds_missing"
    if code == "stage_order":
        if params.get("status") == "closed":
            return "stage_order_closed"
        if params.get("required"):
            return "stage_order_committee_required"
        if params.get("committee") is False:
            return "stage_order_no_committee"
    if code == "date_order":
        if "today" in params:
            return "date_order_today"
        field_name = params.get("field")
        if field_name == "received":
            return "date_order_received"
        if field_name == "document":
            return "date_order_document"
        if field_name in ("branch_resolution", "committee_resolution"):
            return "date_order_resolution"
    if code == "probation_not_complete" and params.get("ceremony") is None:
        return "probation_not_complete_missing"
    if code == "readmission_too_soon" and params.get("once_only"):
        return "readmission_too_soon_once_only"
    return None


def _rule_value(name: str, value) -> str:
    """A violation's param as the sentence shows it: dates dd/mm/yyyy, codes by their names."""
    if value is None:
        return "–"
    if name in _RULE_DATES and isinstance(value, str):
        try:
            return i18n.date(datetime.date.fromisoformat(value))
        except ValueError:
            return safe(value)
    if name in ("from", "to", "stage"):
        return i18n.code_name("outcome" if i18n.has(f"outcome.{value}") else "stage", str(value))
    if name == "kind":
        group = "document" if i18n.has(f"document.{value}") else "resolution"
        return i18n.code_name(group, str(value))
    if name == "vote":
        return i18n.code_name("rule_vote", str(value))
    if name == "by":
        return i18n.code_name("rule_by", str(value))
    if name == "field" and i18n.has(f"rule_field.{value}"):
        return i18n.code_name("rule_field", str(value))
    if name == "changes" and isinstance(value, list):
        return "; ".join(_change_text(change) for change in value) or t("concurrency.unrecorded")
    return safe(value)


def _change_text(change: dict) -> str:
    """One change of a file (db.pipeline.changes_since) as a sentence fragment."""
    at = str(change.get("at") or "")
    try:
        stamp = datetime.datetime.fromisoformat(at)  # UTC: shown in the server's local time
        stamp = stamp.replace(tzinfo=datetime.timezone.utc).astimezone()
        at = f"{i18n.date(stamp.date())} {stamp:%H:%M}"
    except ValueError:
        at = safe(at)
    account = safe(change.get("account") or t("concurrency.unknown_account"))
    action = i18n.code_name("audit_action", change.get("action"))
    before, after = change.get("stage_before"), change.get("stage_after")
    if before and after and before != after:
        return t("concurrency.change_stage", at=at, account=account, action=action,
                 before=i18n.code_name("stage", before), after=i18n.code_name("stage", after))
    return t("concurrency.change", at=at, account=account, action=action)


def rule_message(code: str, params: dict | None = None, day: datetime.date | None = None, *,
                 screen: bool = False) -> str:
    """The sentence, in the current language, for a rule code (or a pipeline refusal code) and
    its params; `day` stands for {date} when the params have none. `screen`: the wording that
    names the screens' keys rather than the command line's options, where the two differ."""
    params = dict(params or {})
    if day is not None:
        params.setdefault("date", day.isoformat())
    variant = _rule_variant(code, params)
    key = f"rule_variant.{variant}" if variant else f"rule.{code}"
    if screen and i18n.has(f"rule_screen.{variant or code}"):
        key = f"rule_screen.{variant or code}"
    if not i18n.has(key):
        return safe(code)
    template = i18n.catalogue()[key][i18n.language()]
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return t(key, **{name: _rule_value(name, params.get(name)) for name in names})


def violation_lines(violations, day: datetime.date | None = None) -> list[str]:
    """One sentence per violation as the screens say it, warnings marked."""
    lines = []
    for v in violations:
        mark = t("cli.write.warning") + ": " if v.warning else ""
        lines.append(mark + rule_message(v.code, v.params, day, screen=True))
    return lines


def error_message(exc: Exception, day: datetime.date | None = None) -> str:
    """The sentence, as the screens say it, for a refusal raised by db.pipeline (StepRefused,
    PipelineError, NotFound, AccessError)."""
    from db.access import AccessError, NotFound
    from db.pipeline import PipelineError, StepRefused

    if isinstance(exc, StepRefused):
        return "\n".join(violation_lines(exc.violations, day))
    if isinstance(exc, PipelineError):
        return rule_message(exc.code, exc.params, day, screen=True)
    if isinstance(exc, NotFound):
        return t("error.not_found", id=safe(exc.args[0] if exc.args else ""))
    if isinstance(exc, AccessError):
        if exc.params.get("readonly"):
            return t("terminal.readonly_refused")
        return t(f"error.{exc.code}", name=safe(exc.params.get("name", "")))
    raise exc


def not_allowed(actor, key: str) -> str:
    """Why a key that changes something does nothing: the message `key` about the role, or, in a
    read-only session (`--readonly`), that the session changes nothing whatever the role."""
    return t("terminal.readonly_key") if getattr(actor, "readonly", False) else t(key)
