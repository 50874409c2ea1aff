"""Recording the next step of a file: choose the stage among the moves allowed from the current
one, then fill in only what that step needs.

Ctrl+T checks the step against the rules (nothing is saved) and lists what fails as sentences;
Ctrl+S saves. When only warnings remain, an organiser or an administrator is asked for the reason
to save anyway; the other roles are told who may. Escape asks before throwing typed input away.
When a branch vote is refused only because it fell short of two thirds, Ctrl+G (shown in the
footer only then) asks a reason and records the failed vote: the file stays in `dossier`.
The screen dismisses with True once the step is saved, with "vote_failed" once a failed vote is.
"""

from __future__ import annotations

import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Checkbox, Footer, Input, Label, Select, Static

from db import cases, connection, pipeline
from db.access import AccessError, NotFound
from screens.dialogs import FieldError, FormField, FormScreen, MessageBox, ReasonDialog, Tick, collect
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.messages import error_message, violation_lines

UNIONS = ("youth_union", "trade_union")


def target_stages(stage: str) -> list[str]:
    """The moves allowed from `stage`, forward moves first."""
    here = pipeline.STAGES.index(stage) if stage in pipeline.STAGES else -1
    return sorted(pipeline.ALLOWED.get(stage, ()),
                  key=lambda s: (pipeline.STAGES.index(s) < here, pipeline.STAGES.index(s)))


def _votes(prefix: str, required: bool) -> list[FormField]:
    return [FormField(f"{prefix}for", t("step.field.votes_for"), kind="count", required=required),
            FormField(f"{prefix}convened", t("step.field.votes_convened"), kind="count", required=required),
            FormField(f"{prefix}excused", t("step.field.votes_excused"), kind="count", value="0")]


def stage_fields(stage: str, today: datetime.date) -> list:
    """The widgets that ask what a step to `stage` needs (the date first)."""
    date_label = t("step.field.ceremony_date") if stage == "probationary" else t("step.field.date")
    out: list = [FormField("date", date_label, kind="date", required=True, value=i18n.date(today))]
    if stage == "certified":
        out += [FormField("cert_number", t("step.field.cert_number"), required=True),
                FormField("cert_issued", t("step.field.cert_issued"), kind="date", required=True),
                FormField("cert_issuer", t("step.field.cert_issuer"), required=True)]
    elif stage == "dossier":
        out.append(Static(t("step.documents_received"), classes="form-section", markup=False))
        for kind in pipeline.BRANCH_DOCUMENTS:
            out.append(Tick(code_name("document", kind), id=f"doc-{kind}"))
        out.append(FormField("docs_received", t("step.field.docs_received"), kind="date"))
        out.append(Static(t("step.introducers"), classes="form-section", markup=False))
        for n in (1, 2):
            out += [FormField(f"intro{n}_cid", t("step.field.intro_cid", n=n), kind="citizen_id"),
                    FormField(f"intro{n}_since", t("step.field.intro_since", n=n), kind="date")]
        out.append(Horizontal(
            Label(t("step.field.union_kind"), classes="form-label", markup=False),
            Select([(t("step.no_union"), "")] + [(code_name("introducer", u), u) for u in UNIONS],
                   value="", allow_blank=False, compact=True, id="in-union_kind"),
            classes="form-row"))
        out.append(FormField("union_resolution", t("step.field.union_resolution")))
    elif stage in ("branch_approved", "committee_approved"):
        out.append(FormField("resolution", t("step.field.resolution"), required=True))
        out += _votes("", True)
    elif stage == "admitted":
        out += [FormField("decision", t("step.field.decision"), required=True),
                FormField("received", t("step.field.received"), kind="date")]
    elif stage == "probationary":
        out.append(FormField("member_records", t("step.field.member_records"), kind="date"))
    elif stage == "official":
        out += [Static(t("step.branch_resolution"), classes="form-section", markup=False),
                FormField("br_number", t("step.field.resolution"), required=True),
                FormField("br_date", t("step.field.resolution_date"), kind="date", required=True),
                *_votes("br_", True),
                Static(t("step.committee_resolution"), classes="form-section", markup=False),
                FormField("cr_number", t("step.field.resolution")),
                FormField("cr_date", t("step.field.resolution_date"), kind="date"),
                *_votes("cr_", False),
                FormField("decision", t("step.field.decision"), required=True)]
    return out


def step_data(stage: str, values: dict, documents: list[str], union_kind: str) -> dict:
    """The step object (case-file JSON shape) from the form's values."""
    data: dict = {"stage": stage, "date": values["date"]}
    if stage == "certified":
        data["certificate"] = {"number": values["cert_number"], "issued": values["cert_issued"],
                               "issuer": values["cert_issuer"]}
    elif stage == "dossier":
        received = values.get("docs_received") or values["date"]
        data["documents"] = [{"kind": kind, "received": received} for kind in documents]
        intros = []
        for n in (1, 2):
            if values.get(f"intro{n}_cid"):
                intros.append({"kind": "member", "citizen_id": values[f"intro{n}_cid"],
                               "together_since": values.get(f"intro{n}_since")})
        if union_kind:
            intros.append({"kind": union_kind, "resolution": values.get("union_resolution")})
        data["introducers"] = intros
    elif stage in ("branch_approved", "committee_approved"):
        data["resolution"] = values["resolution"]
        data["votes"] = {"for": values["for"], "convened": values["convened"],
                         "excused": values.get("excused") or 0}
    elif stage == "admitted":
        data["decision"] = values["decision"]
        data["received"] = values.get("received") or values["date"]
    elif stage == "probationary":
        if values.get("member_records"):
            data["documents"] = [{"kind": "member_records", "received": values["member_records"]}]
    elif stage == "official":
        data["decision"] = values["decision"]
        for key, prefix in (("branch_resolution", "br_"), ("committee_resolution", "cr_")):
            if values.get(f"{prefix}date") is None:
                continue
            votes = None
            if values.get(f"{prefix}for") is not None and values.get(f"{prefix}convened") is not None:
                votes = {"for": values[f"{prefix}for"], "convened": values[f"{prefix}convened"],
                         "excused": values.get(f"{prefix}excused") or 0}
            data[key] = {"number": values.get(f"{prefix}number"), "date": values[f"{prefix}date"],
                         "votes": votes}
    return data


class StepForm(FormScreen):
    """The next step of file `case_id`, now at `stage`."""

    CSS_PATH = "case.tcss"
    HELP_TITLE = "step.help_title"
    HELP_NOTES = ()

    BINDINGS = [
        Binding("ctrl+s", "save", "form.keys.save", priority=True, id="step.save"),
        Binding("ctrl+t", "check", "form.keys.check", priority=True, id="step.check"),
        Binding("f5", "check", "form.keys.check", show=False, priority=True, id="step.check_f5"),
        Binding("ctrl+g", "record_failed_vote", "step.keys.vote_failed", priority=True,
                id="step.vote_failed"),
    ]

    def __init__(self, context: AppContext, case_id: int, stage: str, name: str = "",
                 version: int | None = None) -> None:
        super().__init__()
        self.context = context
        self.case_id = case_id
        # the version of the file the user was shown: a save is refused if it changed since
        self.version = version
        self.current = stage
        self.person_name = name
        self.targets = target_stages(stage)
        self.stage = self.targets[0] if self.targets else None
        self._busy = False
        self.failed_vote_offered = False

    def compose(self) -> ComposeResult:
        with Vertical(id="step-form"):
            yield Static(t("step.title", name=self.person_name, stage=code_name("stage", self.current)),
                         id="step-title", markup=False)
            if self.targets:
                with Horizontal(classes="form-row"):
                    yield Label(t("step.field.stage"), classes="form-label", markup=False)
                    yield Select([(code_name("stage", s), s) for s in self.targets], value=self.stage,
                                 allow_blank=False, compact=True, id="in-stage")
            else:
                yield Static(t("step.no_moves"), markup=False)
            yield VerticalScroll(id="step-fields", can_focus=False)
            yield MessageBox(id="step-messages")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.query_one(MessageBox).display = False
        await self._rebuild()
        if self.targets:
            self.call_after_refresh(self.query_one("#in-stage", Select).focus)

    async def _rebuild(self) -> None:
        body = self.query_one("#step-fields", VerticalScroll)
        await body.remove_children()
        if self.stage:
            await body.mount_all(stage_fields(self.stage, self.context.today))

    @on(Select.Changed, "#in-stage")
    async def _stage_changed(self, event: Select.Changed) -> None:
        if event.value != self.stage and isinstance(event.value, str):
            self.stage = event.value
            self.query_one(MessageBox).show([])
            self._offer_failed_vote(False)
            await self._rebuild()

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "record_failed_vote":
            return self.failed_vote_offered
        return True

    def _offer_failed_vote(self, offered: bool) -> None:
        if offered != self.failed_vote_offered:
            self.failed_vote_offered = offered
            self.refresh_bindings()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        # the votes shown short may have been mistyped: the offer holds for what was checked
        if self.failed_vote_offered:
            self._offer_failed_vote(False)

    def _vote_only_short(self, violations) -> bool:
        """The branch vote is refused for one reason only: real counts below two thirds."""
        blocking = [v for v in violations if not v.warning]
        return (self.stage == "branch_approved" and bool(blocking)
                and all(v.code == "vote_below_two_thirds" and "needed" in v.params for v in blocking))

    def is_dirty(self) -> bool:
        return super().is_dirty() or (bool(self.targets) and self.stage != self.targets[0])

    def _step(self) -> dict | None:
        """The step object, or None (with the errors shown at the fields) when a field is wrong."""
        if not self.stage:
            return None
        fields = list(self.query_one("#step-fields").query(FormField))
        values, bad = collect(fields)
        if bad is not None:
            bad.input.focus()
            self.query_one(MessageBox).show([t("step.fix_fields")])
            return None
        documents = [kind for kind in pipeline.BRANCH_DOCUMENTS
                     if self.query(f"#doc-{kind}") and self.query_one(f"#doc-{kind}", Checkbox).value]
        union = self.query("#in-union_kind")
        union_kind = union.first(Select).value if union else ""
        return step_data(self.stage, values, documents, union_kind if isinstance(union_kind, str) else "")

    def action_check(self) -> None:
        data = self._step()
        if data is not None and not self._busy:
            self._busy = True
            self._run(data, save=False)

    def action_save(self, override_reason: str | None = None) -> None:
        data = self._step()
        if data is not None and not self._busy:
            self._busy = True
            self._run(data, save=True, override_reason=override_reason)

    def action_record_failed_vote(self) -> None:
        if not self.failed_vote_offered or self._busy:
            return
        data = self._step()
        if data is None:
            return

        def answered(reason: str | None) -> None:
            if reason and not self._busy:
                self._busy = True
                self._run_failed_vote(data, reason)

        self.app.push_screen(ReasonDialog(t("step.vote_failed_title"), t("step.vote_failed_note")),
                             answered)

    @work(thread=True, exclusive=True, group="step")
    def _run_failed_vote(self, data: dict, reason: str) -> None:
        ctx = self.context
        day = data.get("date")
        try:
            date = pipeline.step_from_dict(data).date
            pipeline.record_failed_vote(ctx.actor, self.case_id, date, data["votes"], ctx.today,
                                        reason=reason, resolution=data.get("resolution"),
                                        expected_version=self.version)
            result = ("vote_failed", [])
        except pipeline.StepRefused as exc:
            result = ("refused", exc)
        except pipeline.CaseChanged as exc:
            result = ("changed", exc)
        except (pipeline.PipelineError, NotFound, AccessError) as exc:
            result = ("error", error_message(exc, day))
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._finished, result, day)

    def _person_lookup(self, obj) -> int | None:
        """An introducer typed by citizen ID: the one person the account may see with it."""
        wanted = obj.get("citizen_id")
        if obj.get("person_id") is not None or not wanted:
            return obj.get("person_id")
        found = cases.find(self.context.actor, wanted, self.context.today, limit=2)
        if len(found) != 1:
            raise FieldError(t("step.unknown_introducer", citizen_id=wanted))
        return found[0].person_id

    @work(thread=True, exclusive=True, group="step")
    def _run(self, data: dict, *, save: bool, override_reason: str | None = None) -> None:
        ctx = self.context
        day = data.get("date")
        try:
            step = pipeline.step_from_dict(data, person_id=self._person_lookup)
            if save:
                pipeline.apply(ctx.actor, self.case_id, step, ctx.today, override_reason=override_reason,
                               expected_version=self.version)
                result = ("saved", [])
            else:
                violations = pipeline.check(ctx.actor, self.case_id, step, ctx.today)
                result = ("checked", violations)
        except pipeline.StepRefused as exc:
            result = ("refused", exc)
        except pipeline.CaseChanged as exc:
            result = ("changed", exc)
        except (pipeline.PipelineError, NotFound, AccessError) as exc:
            result = ("error", error_message(exc, day))
        except FieldError as exc:
            result = ("error", str(exc))
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._finished, result, day)

    def _finished(self, result, day) -> None:
        self._busy = False
        kind, payload = result
        box = self.query_one(MessageBox)
        short = self._vote_only_short(payload.violations if kind == "refused"
                                      else payload if kind == "checked" else [])
        self._offer_failed_vote(short)
        if kind == "saved":
            self.dismiss(True)
        elif kind == "changed":
            # what was typed stays; the user has now been told what changed, so saving again
            # (the rules are checked again then) is a decision taken knowing it
            self.version = payload.params["current"]
            box.show([t("step.not_saved"), error_message(payload, day)])
        elif kind == "vote_failed":
            self.dismiss("vote_failed")
        elif kind == "checked":
            if payload:
                box.show([t("step.check_fails")] + violation_lines(payload, day)
                         + ([t("step.vote_failed_offer")] if short else []))
            else:
                box.show([t("step.check_ok")], good=True)
        elif kind == "refused":
            lines = [t("step.not_saved")] + violation_lines(payload.violations, day)
            if payload.needs_override and self.context.actor.role in pipeline.OVERRIDE_ROLES:
                box.show(lines)
                self.app.push_screen(ReasonDialog(t("step.override_title"), t("step.override_note")),
                                     self._override_reason)
            else:
                if payload.needs_override:
                    lines.append(t("step.override_forbidden"))
                if short:
                    lines.append(t("step.vote_failed_offer"))
                box.show(lines)
        else:
            box.show([t("step.not_saved"), payload])

    def _override_reason(self, reason: str | None) -> None:
        if reason:
            self.action_save(override_reason=reason)
