"""A new candidate (quần chúng ưu tú) of a branch: the person's data, then a file at `identified`.

Fields are checked as they are typed (dates dd/mm/yyyy, the citizen ID's 12 digits, the phone).
Ctrl+S saves through `db.pipeline.open_case`; when a person with the same name and date of
birth is already on record, the form says so first and a second Ctrl+S saves anyway. A refusal
is shown at its field. Escape asks before throwing typed input away. Dismisses with the new
file's id.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Checkbox, Footer, Label, Select, Static

from db import connection, pipeline
from db.access import AccessError, NotFound
from db.units import UnitNode
from screens.dialogs import FormField, FormScreen, MessageBox, Tick, collect
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.messages import error_message


class NewCaseForm(FormScreen):
    """The new candidate's data; the file opens in `branch`."""

    CSS_PATH = "case.tcss"
    HELP_TITLE = "new_case.title"
    HELP_NOTES = ()

    BINDINGS = [Binding("ctrl+s", "save", "form.keys.save", priority=True, id="new_case.save")]

    def __init__(self, context: AppContext, branch: UnitNode) -> None:
        super().__init__()
        self.context = context
        self.branch = branch
        self._warned_for: tuple | None = None  # the (name, born) the similar people were shown for
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="step-form"):
            yield Static(t("new_case.title_in", branch=self.branch.name), id="step-title", markup=False)
            with VerticalScroll(id="step-fields", can_focus=False):
                yield FormField("full_name", t("new_case.field.full_name"), required=True)
                yield FormField("other_name", t("new_case.field.other_name"))
                with Horizontal(classes="form-row"):
                    yield Label(t("new_case.field.sex") + " *", classes="form-label", markup=False)
                    yield Select([(code_name("sex", s), s) for s in pipeline.SEXES], compact=True,
                                 prompt=t("new_case.choose"), id="in-sex")
                yield Static("", id="sex-error", classes="form-error", markup=False)
                yield FormField("born", t("new_case.field.born"), kind="date", required=True)
                yield FormField("citizen_id", t("new_case.field.citizen_id"), kind="citizen_id")
                yield FormField("phone", t("new_case.field.phone"), kind="phone")
                yield FormField("ethnicity", t("new_case.field.ethnicity"))
                yield FormField("education", t("new_case.field.education"), placeholder="12/12")
                yield Tick(t("new_case.field.youth_union"), id="in-youth_union")
                yield FormField("recommended_by", t("new_case.field.recommended_by"))
                yield FormField("date", t("new_case.field.date"), kind="date", required=True,
                                value=i18n.date(self.context.today))
            yield MessageBox(id="step-messages")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(MessageBox).display = False
        self.query_one("#sex-error").display = False
        self.call_after_refresh(self.query_one("#in-full_name").focus)

    def is_dirty(self) -> bool:
        return super().is_dirty() or self.query_one("#in-sex", Select).value != Select.BLANK

    def action_save(self) -> None:
        if self._busy:
            return
        values, bad = collect(self.query(FormField))
        sex = self.query_one("#in-sex", Select).value
        sex_error = self.query_one("#sex-error", Static)
        sex_error.update("" if sex != Select.BLANK else t("form.error.required"))
        sex_error.display = sex == Select.BLANK
        if bad is not None or sex == Select.BLANK:
            (bad.input if bad is not None else self.query_one("#in-sex")).focus()
            self.query_one(MessageBox).show([t("step.fix_fields")])
            return
        values["sex"] = sex
        values["youth_union"] = self.query_one("#in-youth_union", Checkbox).value
        self._busy = True
        self._save(values, confirmed=self._warned_for == (values["full_name"], values["born"]))

    @work(thread=True, exclusive=True, group="new-case")
    def _save(self, values: dict, confirmed: bool) -> None:
        ctx = self.context
        result: tuple
        try:
            similar = [] if confirmed else pipeline.similar_people(ctx.actor, values["full_name"], values["born"])
            if similar:
                result = ("similar", similar)
            else:
                person = {k: v for k, v in values.items() if k not in ("date", "recommended_by")}
                case_id = pipeline.open_case(ctx.actor, self.branch.id, person, ctx.today,
                                             identified_on=values["date"],
                                             recommended_by=values["recommended_by"])
                result = ("saved", case_id)
        except pipeline.PipelineError as exc:
            result = ("field", exc)
        except (NotFound, AccessError) as exc:
            result = ("error", error_message(exc))
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._finished, result, values)

    def _finished(self, result: tuple, values: dict) -> None:
        self._busy = False
        kind, payload = result
        box = self.query_one(MessageBox)
        if kind == "saved":
            self.dismiss(payload)
        elif kind == "similar":
            self._warned_for = (values["full_name"], values["born"])
            lines = [t("new_case.similar")]
            for person_id, name, born, branch in payload:
                lines.append(t("new_case.similar_line", name=name, born=i18n.date(born),
                               branch=branch or "–", id=person_id))
            lines.append(t("new_case.similar_save"))
            box.show(lines)
        elif kind == "field":
            message = error_message(payload)
            field_name = payload.params.get("field") or ("citizen_id" if "citizen_id" in payload.params else None)
            fields = [f for f in self.query(FormField) if f.field_name == field_name]
            if fields:
                fields[0].show_error(message)
                fields[0].input.focus()
            box.show([t("step.not_saved"), message])
        else:
            box.show([t("step.not_saved"), payload])
