"""An imported file's faults as sentences in the user's language, for the command line
(`ketnap import`, tui/cli_transfer.py) and the import screen (screens/import_people.py) alike.

- `problem_message`: one violation of an imported case file (db.transfer.Problem);
- `people_problem_message`: one fault of a people row, the column named as the sheet names it;
- `refused_message`: a people sheet refused whole (db.import_people.ImportRefused).

The results are plain text (control characters removed from the values): show them with markup
off.
"""

from __future__ import annotations

import datetime
import json

from tui import i18n
from tui.i18n import t
from tui.messages import rule_message, safe


def i18n_stages() -> tuple[str, ...]:
    from db.pipeline import STAGES

    return STAGES


def problem_message(problem) -> str:
    """The sentence for one violation of an imported file, in the current language."""
    params = problem.params
    key = f"cli.transfer.code.{problem.code}"
    if i18n.has(key):
        return t(key, field=safe(params.get("field", problem.column or "")),
                 value=safe(problem.value if problem.value is not None else ""),
                 case_id=params.get("case_id", ""))
    if problem.code in ("unknown_unit", "ambiguous_unit"):
        names = ", ".join(f"{safe(c)} ({safe(n)})" for c, n in params.get("candidates", ()))
        return t(f"error.{problem.code}", text=safe(params.get("text", "")), candidates=names)
    day = None
    if isinstance(problem.value, str) and problem.column in i18n_stages():
        try:
            day = datetime.date.fromisoformat(problem.value)
        except ValueError:
            day = None
    if problem.code in ("bad_value",) and "value" in params:
        params = {**params, "value": json.dumps(params["value"], ensure_ascii=False, default=str)
                  if not isinstance(params["value"], str) else params["value"]}
    return rule_message(problem.code, params, day)


def people_problem_message(problem) -> str:
    """The sentence for one fault of a people row, the column named as the sheet names it."""
    from db.import_people import COLUMNS

    column = problem.column or ""
    shown = COLUMNS.get(column, column) if i18n.language() == "vi" else column
    key = f"cli.people_import.code.{problem.code}"
    params = {k: safe(v) for k, v in (problem.params or {}).items()}
    if problem.code == "needs_procedure":
        for k in ("now", "sheet"):
            params[k] = i18n.code_name("party_status", params.get(k)) or params.get(k) or t("cli.people_import.none")
    if i18n.has(key):
        return t(key, **{"row": "", "now": "", "sheet": "", **params, "column": safe(shown),
                         "value": safe(problem.value if problem.value is not None else "")})
    return problem_message(problem)


def refused_message(exc) -> str:
    """The sentence for a sheet refused whole (`unknown_column`, `missing_column`, `no_rows`)."""
    return t(f"cli.people_import.{exc.code}", column=safe(exc.params.get("column", "")))
