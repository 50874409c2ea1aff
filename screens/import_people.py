"""Importing candidates and members from a spreadsheet on the server (db.import_people), in four
steps on one screen, for the roles that may write. Opened with `I` on the main screen.

1. The file: its path on the server (this tool runs on the office server; staff copy the file
   up first), typed into a field. The file is read in a thread worker; a missing file, a folder,
   an unreadable file or one that is not a sheet is said at the field.
2. The preview: the first rows under the names of the fields they go into (values exactly as
   read), the format and, for text, the encoding found (TCVN3, VNI, ...), the number of rows.
   An unknown or missing column refuses the whole file here.
3. The dry run (`import_people(..., dry_run=True)`, carried out and rolled back, in a thread
   worker): how many people would be new, updated, unchanged, and each rejected row with its
   column, value and reason. `a` chooses "all or nothing" for the import.
4. The import, after a question, in a thread worker feeding a progress bar; then the same counts
   and table.

Escape goes back a step (from step 1, and once the import is done, it closes the screen).
Nothing is written before step 4. Everything read from the file or the database is shown as
plain text (rich Text, markup off), control characters removed.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Footer, Header, Input, ProgressBar, Static

from db import connection, import_people, textfile
from db.access import AccessError, NotFound
from db.import_people import COLUMNS, ImportRefused
from db.transfer import ImportReport
from screens.dialogs import ConfirmDialog, FormField, Tick
from tui import i18n
from tui.context import AppContext
from tui.i18n import t
from tui.import_text import people_problem_message, refused_message
from tui.messages import error_message
from tui.widgets import fit, safe, translate_bindings

PREVIEW_ROWS = 8
CELL_WIDTH = 30  # a long cell is cut in the preview (the whole value is imported)
SHEET_SUFFIXES = (".xlsx", ".csv", ".tsv", ".txt")
DELIMITER_KINDS = {",": "csv", ";": "semicolon", "\t": "tsv", "|": "pipe"}

CSS = """
ImportPeopleScreen { background: $background; }
ImportPeopleScreen #import-title { text-style: bold; height: 1; padding: 0 1; }
ImportPeopleScreen ContentSwitcher { height: 1fr; }
ImportPeopleScreen .step { height: 1fr; padding: 0 1; }
ImportPeopleScreen #step-file FormField { margin-top: 1; }
ImportPeopleScreen #step-file .form-label { width: 20; }
ImportPeopleScreen #step-file FormField .form-error { padding-left: 20; }
ImportPeopleScreen .hint { height: auto; margin-top: 1; color: $text-muted; }
ImportPeopleScreen .line { height: auto; }
ImportPeopleScreen .refusal { height: auto; text-style: bold; margin-top: 1; }
ImportPeopleScreen DataTable { height: 1fr; }
ImportPeopleScreen .detail { height: auto; max-height: 3; border-top: solid $primary; }
ImportPeopleScreen Tick { height: 1; margin: 0; }
ImportPeopleScreen ProgressBar { height: 1; margin-top: 1; }
"""


@dataclass(frozen=True)
class Sheet:
    """A file read: its rows (header first) and how it was read."""

    path: str
    rows: list[list]
    xlsx: bool
    table: textfile.Table | None = None  # for text: encoding and delimiter


class Unreadable(Exception):
    """The file cannot be used: the message for the path field."""


def template_path() -> str:
    """Where the empty template is: the installed package's fixtures (XLSX, else CSV)."""
    folder = resources.files("fixtures")
    for name in ("people-template.xlsx", "people-template.csv"):
        candidate = folder / name
        if candidate.is_file():
            return str(candidate)
    return "fixtures/people-template.xlsx"


def read_file(typed: str) -> Sheet:
    """The sheet at the path typed (in a worker thread); Unreadable says why not."""
    path = os.path.expanduser(typed.strip())
    if not path:
        raise Unreadable(t("import_people.no_path"))
    if os.path.isdir(path):
        try:
            names = sorted(n for n in os.listdir(path) if n.lower().endswith(SHEET_SUFFIXES))
        except OSError:
            names = []
        if names:
            more = ", …" if len(names) > 5 else ""
            raise Unreadable(t("import_people.directory_holds", path=path, names=", ".join(names[:5]) + more))
        raise Unreadable(t("import_people.directory", path=path))
    if not os.path.exists(path):
        raise Unreadable(t("import_people.not_found", path=path))
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise Unreadable(t("import_people.unreadable", path=path, reason=exc.strerror or str(exc))) from None
    if not data.strip():
        raise Unreadable(t("import_people.empty", path=path))
    try:
        # as db.import_people.read_sheet does, keeping the text's encoding for the preview
        if data[:4] == b"PK\x03\x04":
            rows, table = import_people.rows_from_xlsx(data), None
        else:
            table = textfile.read_rows(data)
            rows = table.rows
    except textfile.TextFileError as exc:
        raise Unreadable(t("import_people.not_sheet", path=path, reason=exc.message)) from None
    except Exception as exc:  # a damaged workbook: openpyxl's or zipfile's error, whatever it is
        raise Unreadable(t("import_people.not_sheet", path=path, reason=str(exc) or type(exc).__name__)) from None
    if not rows:
        raise Unreadable(t("import_people.empty", path=path))
    return Sheet(path, rows, table is None, table)


def cell_text(value) -> str:
    """A cell as read, the way a spreadsheet shows it (a date cell dd/mm/yyyy)."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        value = value.date()
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return i18n.date(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_empty(row: list) -> bool:
    return not any(cell_text(c).strip() for c in row)


def field_name(code: str | None) -> str:
    if not code:
        return ""
    key = f"import_people.field.{code}"
    return t(key) if i18n.has(key) else COLUMNS.get(code, code)


def format_words(sheet: Sheet) -> str:
    """The file's format and encoding in words."""
    if sheet.xlsx or sheet.table is None:
        return t("import_people.format_xlsx")
    detection = sheet.table.detection
    key = f"import_people.encoding.{detection.encoding}"
    encoding = t(key) if i18n.has(key) else detection.name
    kind = DELIMITER_KINDS.get(sheet.table.delimiter, "csv")
    words = t("import_people.format_text", kind=t(f"import_people.kind.{kind}"), encoding=encoding)
    if detection.guessed and not detection.confident:
        words += " (" + t("import_people.guessed") + ")"
    return words


def run_import(context: AppContext, rows: list[list], *, dry_run: bool, all_or_nothing: bool = False,
               progress=None, batch: int = import_people.BATCH) -> tuple[ImportReport | None, str | None]:
    """The import (or dry run) in a worker thread: (report, None) or (None, the reason)."""
    try:
        report = import_people.import_people(context.actor, rows, context.today, dry_run=dry_run,
                                             all_or_nothing=all_or_nothing, batch=batch, progress=progress)
    except ImportRefused as exc:
        return None, refused_message(exc)
    except (AccessError, NotFound) as exc:
        return None, error_message(exc)
    except Exception as exc:  # the database busy or gone: said on the screen, nothing half-written
        return None, t("import_people.failed", reason=safe(str(exc) or type(exc).__name__).plain)
    finally:
        connection.close_database()  # this thread's connection only
    return report, None


class ImportPeopleScreen(Screen):
    """The four steps of importing a people sheet. Dismisses with True when something was
    imported (the people list is then read again)."""

    DEFAULT_CSS = CSS
    HELP_TITLE = "import_people.help_title"
    HELP_NOTES = ("import_people.help_note",)

    # Enter does the step's next thing; check_action lets only the current step's one act and
    # show in the footer. On the path field it is the field's own Enter (Input.Submitted), taken
    # in turn after the characters typed before it (a slow link delivers "path, Enter" in one
    # read, and a priority binding would act before they reach the field); on the tables it is a
    # priority binding, before the table's own Enter.
    BINDINGS = [
        Binding("enter", "read", "import_people.key_read", tooltip="import_people.key_read_long",
                id="import_people.read"),
        Binding("enter", "dry_run", "import_people.key_dry_run", tooltip="import_people.key_dry_run_long",
                priority=True, id="import_people.dry_run"),
        Binding("enter", "confirm", "import_people.key_import", tooltip="import_people.key_import_long",
                priority=True, id="import_people.import"),
        Binding("enter", "close", "import_people.key_close", priority=True, id="import_people.close"),
        Binding("a", "toggle_all", "import_people.key_all_or_nothing",
                tooltip="import_people.key_all_or_nothing_long", id="import_people.all_or_nothing"),
        Binding("escape", "back", "keys.back", id="import_people.back"),
    ]
    _STEP_OF = {"read": 1, "dry_run": 2, "confirm": 3, "toggle_all": 3, "close": 4}

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.step = 1
        self.sheet: Sheet | None = None
        self.codes: list[str | None] = []
        self.refusal: str | None = None  # the whole file refused (step 2)
        self.dry: ImportReport | None = None
        self.result: ImportReport | None = None
        self.busy = False
        self.imported = False  # step 4 done (something may have been written)
        self._seq = 0  # a result from a step left behind is dropped
        self._rows = 0  # data rows, for the progress bar
        self._passes = (0, 0)  # (offset, last) of the progress callback
        self._all_or_nothing = False  # of the import under way
        self._details: dict[str, dict[str, str]] = {}  # table -> row key -> the sentence in full

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static("", id="import-title", markup=False)
        with ContentSwitcher(initial="step-file"):
            with Vertical(id="step-file", classes="step"):
                yield FormField("path", t("import_people.field_path"),
                                placeholder=t("import_people.path_placeholder"))
                yield Static(t("import_people.hint_template", path=template_path()), classes="hint",
                             markup=False)
                yield Static(t("import_people.hint_formats"), classes="hint", markup=False)
                yield Static(t("import_people.hint_server", cwd=os.getcwd()), classes="hint", markup=False)
            with Vertical(id="step-preview", classes="step"):
                yield Static("", id="preview-file", classes="line", markup=False)
                yield Static("", id="preview-format", classes="line", markup=False)
                yield Static("", id="preview-counts", classes="line", markup=False)
                yield DataTable(id="preview-table", cursor_type="row", zebra_stripes=False)
                yield Static("", id="preview-refusal", classes="refusal", markup=False)
            with Vertical(id="step-dry", classes="step"):
                yield Static("", id="dry-summary", classes="line", markup=False)
                yield Tick(t("import_people.all_or_nothing"), id="all-or-nothing")
                yield DataTable(id="dry-table", cursor_type="row")
                yield Static("", id="dry-detail", classes="detail", markup=False)
            with Vertical(id="step-import", classes="step"):
                yield ProgressBar(id="import-progress", show_eta=False)
                yield Static("", id="import-summary", classes="line", markup=False)
                yield DataTable(id="import-table", cursor_type="row")
                yield Static("", id="import-detail", classes="detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("import_people.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self._show_step(1)

    def _show_step(self, step: int) -> None:
        self.step = step
        names = {1: "step-file", 2: "step-preview", 3: "step-dry", 4: "step-import"}
        self.query_one(ContentSwitcher).current = names[step]
        self.query_one("#import-title", Static).update(t(f"import_people.step{step}"))
        focus = {1: "#in-path", 2: "#preview-table", 3: "#dry-table", 4: "#import-table"}[step]
        self.query_one(focus).focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        step = self._STEP_OF.get(action)
        if step is None:
            return True
        if step != self.step:
            return False
        if action == "dry_run" and (self.refusal is not None or self.sheet is None):
            return False
        if action == "close":
            return self.imported and not self.busy
        if action == "confirm" and self.dry is None:
            return False
        return None if self.busy else True

    # --- step 1: the file -----------------------------------------------------------------

    @property
    def path_field(self) -> FormField:
        return self.query_one("#field-path", FormField)

    @on(Input.Submitted, "#in-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_read()

    def action_read(self) -> None:
        if self.busy:
            return
        typed = self.path_field.input.value
        if not self.context.server_files:  # over SSH: no file of the server is the client's to read
            self.path_field.show_error(t("import_people.over_ssh"))
            return
        if not typed.strip():
            self.path_field.show_error(t("import_people.no_path"))
            return
        self.busy = True
        self._seq += 1
        self.path_field.show_error(t("import_people.reading"))
        self.refresh_bindings()
        self._read(self._seq, typed)

    @work(thread=True, exclusive=True, group="import-read")
    def _read(self, seq: int, typed: str) -> None:
        try:
            sheet, error = read_file(typed), None
        except Unreadable as exc:
            sheet, error = None, str(exc)
        self.app.call_from_thread(self._was_read, seq, sheet, error)

    def _was_read(self, seq: int, sheet: Sheet | None, error: str | None) -> None:
        if seq != self._seq:
            return
        self.busy = False
        if sheet is None:
            self.path_field.show_error(error)
            self.path_field.input.focus()
            self.refresh_bindings()
            return
        self.path_field.show_error(None)
        self.sheet = sheet
        self.dry = None
        self._fill_preview(sheet)
        self._show_step(2)

    # --- step 2: the preview --------------------------------------------------------------

    def _fill_preview(self, sheet: Sheet) -> None:
        header, data = sheet.rows[0], sheet.rows[1:]
        numbered = [(n, row) for n, row in enumerate(data, start=2) if not is_empty(row)]
        self._rows = len(numbered)
        self.refusal = None
        try:
            self.codes = import_people.columns_of([cell_text(c) for c in header])
        except ImportRefused as exc:
            self.codes = []
            names = ", ".join(COLUMNS.values())
            self.refusal = "\n".join([refused_message(exc), t("import_people.columns_known", names=names),
                                      t("import_people.refused_back")])
        if self.refusal is None and not numbered:
            self.refusal = "\n".join([t("import_people.no_data"), t("import_people.refused_back")])
        self.query_one("#preview-file", Static).update(safe(t("import_people.file_line", path=sheet.path)))
        self.query_one("#preview-format", Static).update(format_words(sheet))
        shown = min(PREVIEW_ROWS, len(numbered))
        self.query_one("#preview-counts", Static).update(t(
            "import_people.counts_line", rows=i18n.number(len(numbered)),
            columns=i18n.number(sum(1 for c in self.codes if c) if self.codes else len(header)),
            shown=t("import_people.shown_first", n=shown)))
        table = self.query_one("#preview-table", DataTable)
        table.clear(columns=True)
        refusal = self.query_one("#preview-refusal", Static)
        refusal.update(self.refusal or "")
        refusal.display = self.refusal is not None
        table.display = self.refusal is None
        self.query_one("#preview-counts").display = self.refusal is None
        if self.refusal is not None:
            return
        kept = [i for i, code in enumerate(self.codes) if code]
        table.add_column(t("import_people.col.row"), key="row")
        for i in kept:
            table.add_column(field_name(self.codes[i]), key=f"c{i}")
        for number, row in numbered[:PREVIEW_ROWS]:
            cells = [Text(str(number))]
            for i in kept:
                value = cell_text(row[i]) if i < len(row) else ""
                cells.append(fit(safe(value.replace("\n", "¶")), CELL_WIDTH))
            table.add_row(*cells, key=str(number))

    def action_dry_run(self) -> None:
        if self.busy or self.sheet is None or self.refusal is not None:
            return
        self.busy = True
        self._seq += 1
        self.dry = None
        self.query_one("#dry-summary", Static).update(t("import_people.dry_running"))
        self.query_one("#dry-table", DataTable).clear(columns=True)
        self.query_one("#dry-detail", Static).update("")
        self._show_step(3)
        self._dry_run(self._seq, self.sheet.rows)

    def _batch(self) -> int:
        """Batches small enough for the progress to move, at most db.import_people's."""
        return max(10, min(import_people.BATCH, self._rows // 20))

    @work(thread=True, exclusive=True, group="import-dry")
    def _dry_run(self, seq: int, rows: list[list]) -> None:
        def progress(done: int) -> None:
            self.app.call_from_thread(self._dry_progressed, seq, done)

        report, error = run_import(self.context, rows, dry_run=True, progress=progress, batch=self._batch())
        self.app.call_from_thread(self._dry_done, seq, report, error)

    def _dry_progressed(self, seq: int, done: int) -> None:
        if seq == self._seq and self.dry is None:
            self.query_one("#dry-summary", Static).update(t(
                "import_people.dry_progress", done=i18n.number(min(done, self._rows)),
                total=i18n.number(self._rows)))

    def _dry_done(self, seq: int, report: ImportReport | None, error: str | None) -> None:
        if seq != self._seq:
            return
        self.busy = False
        summary = self.query_one("#dry-summary", Static)
        if report is None:
            summary.update(error or "")
            self.refresh_bindings()
            return
        self.dry = report
        self._summarise(summary, "import_people.dry_summary", report, [t("import_people.dry_nothing_saved")])
        self._fill_rejected("dry", report)
        self.refresh_bindings()

    # --- step 3: the dry run --------------------------------------------------------------

    def _summarise(self, widget: Static, key: str, report: ImportReport, more: list[str]) -> None:
        line = t(key, new=i18n.number(report.imported), updated=i18n.number(report.updated),
                 unchanged=i18n.number(report.unchanged), rejected=i18n.number(len(report.rejected)))
        widget.update("\n".join([line, *more]))

    def _fill_rejected(self, prefix: str, report: ImportReport) -> None:
        """The rejected rows, one line per fault: row, name, column, value, reason."""
        table = self.query_one(f"#{prefix}-table", DataTable)
        table.clear(columns=True)
        widths = {"row": 5, "name": 18, "column": 12, "value": 12}
        # the reason fills the rest of the line (cut: the line below the table says it in full)
        reason_width = max(16, self.size.width - 4 - sum(widths.values()) - 2 * 5)
        for key in ("row", "name", "column", "value", "reason"):
            table.add_column(t(f"import_people.col.{key}"), key=key, width=widths.get(key, reason_width))
        details = self._details[prefix] = {}
        for result in report.rejected:
            for n, problem in enumerate(result.problems):
                reason = people_problem_message(problem)
                key = f"{result.row}:{n}"
                value = "" if problem.value is None else cell_text(problem.value)
                table.add_row(Text(str(result.row)), fit(safe(result.record or ""), widths["name"]),
                              fit(safe(field_name(problem.column)), widths["column"]),
                              fit(safe(value), widths["value"]), fit(Text(reason), reason_width), key=key)
                details[key] = t("import_people.detail", row=result.row, name=result.record or "",
                                 reason=reason)
        detail = self.query_one(f"#{prefix}-detail", Static)
        if not report.rejected:
            detail.update(t("import_people.no_rejected"))
        elif table.row_count:
            detail.update(details[next(iter(details))])

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        prefix = (event.data_table.id or "").removesuffix("-table")
        details = self._details.get(prefix)
        if not details or event.row_key is None or event.row_key.value not in details:
            return
        self.query_one(f"#{prefix}-detail", Static).update(details[event.row_key.value])

    def action_toggle_all(self) -> None:
        tick = self.query_one("#all-or-nothing", Tick)
        tick.value = not tick.value

    @on(Tick.Changed, "#all-or-nothing")
    def _all_changed(self) -> None:
        if self.dry is not None:
            more = [t("import_people.dry_nothing_saved")]
            if self.query_one("#all-or-nothing", Tick).value and self.dry.rejected:
                more.append(t("import_people.all_or_nothing_warning"))
            self._summarise(self.query_one("#dry-summary", Static), "import_people.dry_summary", self.dry, more)

    def action_confirm(self) -> None:
        if self.busy or self.dry is None or self.sheet is None:
            return
        all_or_nothing = self.query_one("#all-or-nothing", Tick).value
        key = "import_people.confirm_all_or_nothing" if all_or_nothing else "import_people.confirm"
        question = t(key, path=self.sheet.path, new=i18n.number(self.dry.imported),
                     updated=i18n.number(self.dry.updated))

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_import(all_or_nothing)

        self.app.push_screen(ConfirmDialog(question, t("import_people.confirm_keys")), answered)

    # --- step 4: the import ---------------------------------------------------------------

    def _start_import(self, all_or_nothing: bool) -> None:
        if self.busy or self.sheet is None:
            return
        self.busy = True
        self.imported = True  # from here on, Escape no longer goes back to a dry run
        self._seq += 1
        self._passes = (0, 0)
        total = max(self._rows, 1) * (2 if all_or_nothing else 1)
        bar = self.query_one(ProgressBar)
        bar.update(total=total, progress=0)
        self._all_or_nothing = all_or_nothing
        self.query_one("#import-summary", Static).update(self._progress_words(0))
        self.query_one("#import-table", DataTable).clear(columns=True)
        self.query_one("#import-detail", Static).update("")
        self._show_step(4)
        self._import(self._seq, self.sheet.rows, all_or_nothing, self._batch())

    def _progress_words(self, shown: int) -> str:
        rows = max(self._rows, 1)
        if self._all_or_nothing and shown < rows:
            return t("import_people.checking", done=i18n.number(shown), total=i18n.number(self._rows))
        done = shown - rows if self._all_or_nothing else shown
        return t("import_people.writing", done=i18n.number(min(done, self._rows)), total=i18n.number(self._rows))

    @work(thread=True, exclusive=True, group="import-write")
    def _import(self, seq: int, rows: list[list], all_or_nothing: bool, batch: int) -> None:
        def progress(done: int) -> None:
            self.app.call_from_thread(self._progressed, seq, done)

        report, error = run_import(self.context, rows, dry_run=False, all_or_nothing=all_or_nothing,
                                   progress=progress, batch=batch)
        self.app.call_from_thread(self._import_done, seq, report, error)

    def _progressed(self, seq: int, done: int) -> None:
        if seq != self._seq:
            return
        offset, last = self._passes
        if done < last:  # all or nothing: the check is over, the writing starts again from 0
            offset += last
        self._passes = (offset, done)
        self.query_one(ProgressBar).update(progress=offset + done)
        self.query_one("#import-summary", Static).update(self._progress_words(offset + done))

    def _import_done(self, seq: int, report: ImportReport | None, error: str | None) -> None:
        if seq != self._seq:
            return
        self.busy = False
        bar = self.query_one(ProgressBar)
        bar.update(progress=bar.total or 0)
        summary = self.query_one("#import-summary", Static)
        if report is None:
            summary.update(error or "")
            self.refresh_bindings()
            return
        self.result = report
        more = [t("import_people.rolled_back")] if report.rolled_back else []
        self._summarise(summary, "import_people.done", report, more)
        self._fill_rejected("import", report)
        self.refresh_bindings()

    # --- going back -----------------------------------------------------------------------

    def action_close(self) -> None:
        if not self.busy:
            self.dismiss(self.result is not None and bool(self.result.imported or self.result.updated))

    def action_back(self) -> None:
        if self.step == 4:
            if self.busy:
                self.notify(t("import_people.busy"), markup=False, timeout=4)
                return
            self.action_close()
            return
        self._seq += 1  # a read or dry run still running is dropped
        self.busy = False
        if self.step == 1:
            self.dismiss(False)
        elif self.step == 2:
            self._show_step(1)
        else:
            self._show_step(2)
