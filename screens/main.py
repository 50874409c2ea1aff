"""The main screen: the unit tree on the left, the chosen unit's people on the right.

The people list holds one screenful, fetched from `db.people.people_page` with keyset cursors
in Vietnamese name order; PageDown/PageUp (and the arrows past the last or first row) fetch the
next or previous page. Database work runs in thread workers that post their results back.

`k` lists the unit's classes for the year (screens/classes.py).
`p` shows the unit's progress against its target (screens/progress.py).
`y` shows the change history of the unit listed, `Y` that of the person highlighted in the list
(screens/audit.py); `U` the accounts (screens/accounts.py, administrators only).
`o` shows the organisational history of the unit chosen in the tree and, for organisers and
administrators, founds, renames, merges, splits, dissolves or transfers it (screens/reorganise.py);
coming back, the tree is read again and shows the unit acted on (or the one that received it).
`I` imports candidates and members from a spreadsheet on the server (screens/import_people.py),
for the roles that may write.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Static, Tree

from db import connection, people, units
from db.access import may_manage_accounts, may_write
from db.people import KINDS, Page, PersonRow
from db.units import UnitNode
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.widgets import PagedTable, UnitTree, fit, safe, translate_bindings

BORN_WIDTH = 10
NAME_MAX = 32
DEFAULT_ROWS = 20  # until the table has been laid out
FIRST_UNFOLDED_MAX = 500  # tree lines the first unfolding may show (two levels, else one)


@dataclass(frozen=True)
class PageRequest:
    """What the list asks the database for. `offset` is the number of rows before the page
    the list shows now (for `before`) or before the page wanted (otherwise)."""

    seq: int
    unit: UnitNode
    kind: str
    limit: int
    after: tuple[str, int] | None = None
    before: tuple[str, int] | None = None
    offset: int = 0
    row: int = 0  # the cursor row on the new page; -1: the last
    count: int | None = None  # the count when already known
    name_filter: str = ""  # the `/` filter
    person_id: int | None = None  # a page starting with this person (from the search)


@dataclass(frozen=True)
class ListPlace:
    """Where the main screen is: the unit listed, which list, the page (`after`: the keyset
    cursor just before its first row, `offset`: the rows before it), the cursor row and the
    list's filter. Kept by the back/forward history (tui/history.py)."""

    unit_id: int | None
    kind: str
    offset: int = 0
    after: tuple[str, int] | None = None
    row: int = 0
    filter_text: str = ""


class PeopleLoaded(Message):
    def __init__(self, request: PageRequest, page: Page, offset: int, count: int) -> None:
        super().__init__()
        self.request = request
        self.page = page
        self.offset = offset
        self.count = count


class TreeLoaded(Message):
    def __init__(self, roots: list[UnitNode], seq: int) -> None:
        super().__init__()
        self.roots = roots
        self.seq = seq


def status_label(row: PersonRow) -> str:
    """The open file's stage (short name), else the party status, else nothing."""
    if row.case_id is not None and row.stage:
        key = f"main.stage_short.{row.stage}"
        return t(key) if i18n.has(key) else code_name("stage", row.stage)
    return code_name("party_status", row.party_status)


def status_width() -> int:
    labels = [t(f"main.stage_short.{s}") for s in
              ("identified", "in_class", "certified", "dossier", "branch_approved",
               "committee_approved", "admitted", "probationary")]
    labels += [code_name("party_status", s) for s in ("probationary", "official")]
    return max(len(label) for label in labels + [t("main.col.status")])


_PREFIXES = ("chi bộ ", "đảng bộ ")  # every unit's name starts with one: the tree shows the rest
_ABBREVIATIONS = (("Tổ dân phố ", "TDP "), ("Trường Tiểu học ", "Trường TH "),
                  ("Trường Mầm non ", "Trường MN "))


def short_unit_name(name: str | None) -> str:
    """A unit's name for the narrow tree and the branch column: without the "Chi bộ" or
    "Đảng bộ" that starts it, with the usual abbreviations, so that what tells two units apart
    (the place) still shows at 80 columns. The full name shows below the tree."""
    if not name:
        return ""
    for prefix in _PREFIXES:
        if name.lower().startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
            break
    for long, short in _ABBREVIATIONS:
        if name.startswith(long):
            name = short + name[len(long):]
    return name


class MainScreen(Screen):
    """Units on the left, people on the right."""

    CSS_PATH = "main.tcss"
    HELP_TITLE = "main.help_title"
    HELP_NOTES = ("main.help_mark",)

    BINDINGS = [
        Binding("l", "cycle_kind", "keys.kind", tooltip="keys.kind_long", id="main.kind"),
        Binding("h", "toggle_ended", "keys.ended", tooltip="keys.ended_long", show=False,
                id="main.ended"),  # in the help (F1): the footer has no room at 80 columns
        Binding("w", "worklist", "keys.worklist", tooltip="keys.worklist_long", id="main.worklist"),
        # in the help (F1): the footer has no room at 80 columns
        Binding("M", "meeting", "meeting.key", tooltip="meeting.key_long", show=False,
                id="main.meeting"),  # in the help (F1): the footer has no room at 80 columns
        Binding("k", "classes", "classes.key", tooltip="classes.key_long", show=False,
                id="main.classes"),
        Binding("p", "progress", "progress.key", tooltip="progress.key_long", show=False,
                id="main.progress"),  # in the help (F1): the footer has no room at 80 columns
        Binding("n", "new_case", "new_case.key", tooltip="new_case.key_long", show=False,
                id="main.new_case"),
        Binding("y", "unit_history", "audit.key_unit", tooltip="audit.key_unit_long", show=False,
                id="main.unit_history"),
        Binding("Y", "person_history", "audit.key_person", tooltip="audit.key_person_long",
                show=False, id="main.person_history"),
        Binding("o", "reorganise", "reorganise.key", tooltip="reorganise.key_long", show=False,
                id="main.reorganise"),  # in the help (F1): the footer has no room at 80 columns
        # for administrators, also in the footer while the tree has the focus (see compose:
        # with the list's keys there is no room at 80 columns); others are told it is not theirs
        Binding("U", "accounts", "accounts.key", tooltip="accounts.key_long", show=False,
                id="main.accounts"),
        # in the help (F1), for the roles that may write; a viewer is told it is not theirs
        Binding("I", "import_people", "import_people.key", tooltip="import_people.key_long", show=False,
                id="main.import_people"),
        # priority: the focus moves as the key is read, so that what is typed next (a burst
        # over a slow link) goes into the field; not while a text field has the focus
        Binding("slash", "filter", "search.key_filter", tooltip="search.key_filter_long",
                show=False, priority=True, id="main.filter"),
        Binding("escape", "clear_filter", show=False, id="main.clear_filter"),
        Binding("enter,down", "filter_to_list", show=False, priority=True),
        Binding("tab", "app.focus_next", "keys.focus_next", show=False, id="main.focus_next"),
        Binding("shift+tab", "app.focus_previous", "keys.focus_previous", show=False,
                id="main.focus_previous"),
    ]

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        translate_bindings(self)
        if not may_write(context.actor):  # out of the help too; the key still says why not
            bindings = self._bindings.key_to_bindings
            for key in ("I", "n"):
                bindings[key] = [replace(b, description="", tooltip="") for b in bindings.get(key, [])]
        self.context = context
        self.kind = KINDS[0]
        self.show_ended = False
        self.unit: UnitNode | None = None
        self.page: Page | None = None
        self.first_index = 0
        self.count = 0
        self._request: PageRequest | None = None  # the one whose result is shown
        self._seq = 0
        self.ready_for_input = False  # the first page of people is on the screen
        self._asked_limit = 0  # the page size of the latest request
        self._tree_seq = 0
        self._expanded: set[int] | None = None  # unit ids unfolded in the tree
        self._follow: int | None = None  # after a reorganisation: the unit to show next
        self._queued: list[PagedTable.PageRequested] = []  # page turns asked for while loading
        self._follow_person: int | None = None  # after a search: the person to show
        self._asked: PageRequest | None = None  # the latest page asked for
        self.filter_text = ""  # the `/` filter of the people list

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with Horizontal(id="main-body"):
            with Vertical(id="units-pane"):
                tree = UnitTree(Text(""), id="units", label=self._tree_label,
                                chain_of=self._unit_chain)
                tree.show_root = False
                if may_manage_accounts(self.context.actor):
                    tree._bindings.bind("U", "screen.accounts", t("accounts.key"))
                yield tree
                yield Static("", id="unit-name", markup=False)
            with Vertical(id="people-pane"):
                yield Static("", id="people-info", markup=False)
                with Horizontal(id="people-filter-row"):
                    yield Label(t("search.filter_label"), markup=False, id="people-filter-label")
                    field = Input(placeholder=t("search.filter_placeholder"), id="people-filter",
                                  compact=True)
                    field.cursor_blink = False
                    yield field
                yield PagedTable(id="people")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.title = t("app.title")
        self.query_one("#people-filter-row").display = False
        self.query_one(UnitTree).focus()
        # The first tree and page are read here, before the first paint: a few milliseconds of
        # queries, and the screen is drawn once, complete, instead of three times over a slow link.
        self._tree_seq += 1
        roots = units.unit_tree(self.context.actor, self.context.today, include_ended=self.show_ended)
        self._show_tree(TreeLoaded(roots, self._tree_seq))

    # --- the tree -------------------------------------------------------------------------

    def _unit_chain(self, unit_id: int) -> list[int] | None:
        return units.unit_chain(self.context.actor, unit_id, self.context.today,
                                include_ended=self.show_ended)

    def load_tree(self) -> None:
        self._tree_seq += 1
        self._fetch_tree(self._tree_seq, self.show_ended)

    @work(thread=True, exclusive=True, group="tree")
    def _fetch_tree(self, seq: int, include_ended: bool) -> None:
        try:
            roots = units.unit_tree(self.context.actor, self.context.today,
                                    include_ended=include_ended)
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(TreeLoaded(roots, seq))

    def _tree_label(self, unit: UnitNode, *, full: bool = False) -> Text:
        """A unit in the tree, its name shortened (the tree is narrow at 80 columns); `full` for
        the line below the tree."""
        label = safe(unit.name if full else short_unit_name(unit.name))
        if unit.ended is not None and unit.ended <= self.context.today:
            label.append(" (" + t("main.tree.ended", date=i18n.date(unit.ended)) + ")", style="dim")
        return label

    @on(TreeLoaded)
    def _show_tree(self, message: TreeLoaded) -> None:
        if message.seq != self._tree_seq:
            return
        tree = self.query_one(UnitTree)
        first_time = self._expanded is None
        # keep the cursor where it was (else on the unit listed, else on the first root)
        cursor = tree.cursor_node.data if tree.cursor_node is not None else None
        cursor = cursor or self.unit
        wanted = cursor.id if cursor is not None else None
        follow, self._follow = self._follow, None
        if follow is not None:
            wanted = follow
        # the first time, the top units and the level below are unfolded, unless that makes a
        # province's tens of thousands of branches lines to lay out (seconds, at start-up)
        unfold = 1 if sum(r.child_count + sum(c.child_count for c in r.children)
                          for r in message.roots) <= FIRST_UNFOLDED_MAX else 0
        tree.keep_open = set() if first_time else self._expanded
        tree.show_units(message.roots)
        if first_time:
            for top in tree.root.children:
                tree.open(top)
                for below in top.children if unfold else ():
                    tree.open(below)
            self._expanded = {n.data.id for n in self._walk(tree.root) if n.is_expanded and n.data}
            tree.keep_open = self._expanded
        found = tree.node_for(wanted) if wanted is not None else None
        if found is None and tree.root.children:
            found = tree.root.children[0]
        if found is not None:
            # the node's line is known only once the tree has laid out its lines
            node = found
            if follow is not None:  # unfold down to it, and list its people
                parent = node.parent
                while parent is not None and parent is not tree.root:
                    parent.expand()
                    parent = parent.parent
            self.call_after_refresh(tree.move_cursor, node)
            if self.unit is None or (follow is not None and node.data.id == follow):
                person, self._follow_person = self._follow_person, None
                self.show_unit(node.data, person_id=person if follow is not None else None)
                if person is not None and follow is not None:
                    self.query_one(PagedTable).focus()
        elif self.unit is None:
            self._show_info()

    @staticmethod
    def _walk(node):
        for child in node.children:
            yield child
            yield from MainScreen._walk(child)

    @on(Tree.NodeHighlighted)
    def _unit_highlighted(self, event: Tree.NodeHighlighted) -> None:
        """The tree cuts long names: the highlighted unit's full name shows below it."""
        unit = event.node.data
        self.query_one("#unit-name", Static).update(
            self._tree_label(unit, full=True) if unit is not None else Text(""))

    @on(Tree.NodeExpanded)
    def _remember_expanded(self, event: Tree.NodeExpanded) -> None:
        if self._expanded is not None and event.node.data is not None:
            self._expanded.add(event.node.data.id)

    @on(Tree.NodeCollapsed)
    def _remember_collapsed(self, event: Tree.NodeCollapsed) -> None:
        if self._expanded is not None and event.node.data is not None:
            self._expanded.discard(event.node.data.id)

    @on(Tree.NodeSelected)
    def _unit_chosen(self, event: Tree.NodeSelected) -> None:
        event.stop()
        if event.node.data is None:
            return
        if self.unit is not None and event.node.data.id != self.unit.id:
            self._record_place()
        self.show_unit(event.node.data)
        self.query_one(PagedTable).focus()

    # --- places: for the back/forward history and the command palette (tui/history.py) ----

    def _record_place(self) -> None:
        history = getattr(self.app, "history", None)
        if history is not None:
            history.record()

    def place(self) -> ListPlace:
        """Where the list is now."""
        table = self.query_one(PagedTable)
        page = self.page
        after = None
        if page is not None and page.rows and self.first_index > 0:
            first = page.rows[0]
            after = (first.sort_key, first.id - 1)  # ids are integers: just before the first row
        return ListPlace(self.unit.id if self.unit is not None else None, self.kind,
                         offset=self.first_index if after is not None else 0, after=after,
                         row=max(table.cursor_row, 0) if table.row_count else 0,
                         filter_text=getattr(self, "filter_text", ""))

    def go_to_unit(self, unit_id: int) -> None:
        """List the unit's people, the unit chosen in the tree, as Enter on it does (the command
        palette's jump)."""
        if self.unit is not None and self.unit.id == unit_id:
            self.query_one(PagedTable).focus()
            return
        self._record_place()
        node = self._choose_in_tree(unit_id)
        if node is not None:
            self.show_unit(node.data)
            self.query_one(PagedTable).focus()

    def restore_place(self, place: ListPlace) -> None:
        """Back where `place` was: the unit chosen in the tree, the same list, page, row and
        filter."""
        node = self._choose_in_tree(place.unit_id) if place.unit_id is not None else None
        if node is None:
            return
        self._queued.clear()
        self.unit = node.data
        self.title = node.data.name
        self.kind = place.kind if place.kind in KINDS else self.kind
        # the `/` filter of the list, where the screen has one (set before the page is asked for)
        if hasattr(self, "apply_filter") and getattr(self, "filter_text", "") != place.filter_text:
            self.apply_filter(place.filter_text)
        self._request_page(after=place.after, offset=place.offset, row=place.row)
        self.query_one(PagedTable).focus()

    def _choose_in_tree(self, unit_id: int):
        """The unit's node, unfolded down to and under the tree's cursor; None when the tree
        shown lacks it: the tree is read again and then lists it."""
        tree = self.query_one(UnitTree)
        node = tree.node_for(unit_id)
        if node is None:
            self.reload_after_change(unit_id)
            return None
        parent = node.parent
        while parent is not None and parent is not tree.root:
            parent.expand()
            parent = parent.parent
        self.call_after_refresh(tree.move_cursor, node)
        return node

    def action_worklist(self) -> None:
        """The work list of the unit whose people are listed (and everything below it)."""
        if self.unit is None:
            return
        from screens.worklist import WorklistScreen  # imported on first use

        self.app.push_screen(WorklistScreen(self.context, self.unit))

    def action_meeting(self) -> None:
        """Meeting mode for the branch whose people are listed, else the branch under the tree's
        cursor (branches only)."""
        node = self.query_one(UnitTree).cursor_node
        cursor = node.data if node is not None else None
        branch = next((u for u in (self.unit, cursor) if u is not None and u.is_branch), None)
        if branch is None:
            self.notify(t("meeting.not_branch", unit=self.unit.name) if self.unit is not None
                        else t("meeting.pick_branch"), markup=False, timeout=4)
            return
        from screens.meeting import MeetingScreen  # imported on first use

        self.app.push_screen(MeetingScreen(self.context, branch))

    def action_classes(self) -> None:
        """The classes of the unit whose people are listed (and of the units above it)."""
        from screens.classes import ClassListScreen  # imported on first use

        self.app.push_screen(ClassListScreen(self.context, self.unit))

    def action_progress(self) -> None:
        """The progress of the unit whose people are listed against its target."""
        if self.unit is None:
            self.notify(t("progress.pick_unit"), markup=False, timeout=4)
            return
        from screens.progress import ProgressScreen  # imported on first use

        self.app.push_screen(ProgressScreen(self.context, self.unit))

    def action_new_case(self) -> None:
        """A new candidate in the branch whose people are listed; the new file opens."""
        if not may_write(self.context.actor):
            key = "terminal.readonly_key" if self.context.actor.readonly else "error.viewer_forbidden"
            self.notify(t(key, name=self.context.actor.name), markup=False, severity="warning", timeout=5)
            return
        if self.unit is None or not self.unit.is_branch:
            self.notify(t("new_case.pick_branch"), markup=False, timeout=4)
            return
        from screens.case import CaseScreen
        from screens.new_case import NewCaseForm  # imported on first use

        def saved(case_id: int | None) -> None:
            if case_id:
                self.show_unit(self.unit)
                self.app.push_screen(CaseScreen(self.context, case_id))

        self.app.push_screen(NewCaseForm(self.context, self.unit), saved)

    def action_unit_history(self) -> None:
        """The change history of the unit whose people are listed (and the units below it)."""
        if self.unit is None:
            self.notify(t("audit.no_unit"), markup=False, timeout=4)
            return
        from screens.audit import open_history  # imported on first use

        open_history(self, t("audit.title_unit", name=self.unit.name), unit_id=self.unit.id)

    def action_person_history(self) -> None:
        """The change history of the person highlighted in the people list."""
        table = self.query_one(PagedTable)
        row = None
        if self.page is not None and table.row_count:
            index = max(table.cursor_row, 0)
            row = self.page.rows[index] if index < len(self.page.rows) else None
        if row is None:
            self.notify(t("audit.no_person"), markup=False, timeout=4)
            return
        from screens.audit import open_history  # imported on first use

        open_history(self, t("audit.title_person", name=row.full_name), person_id=row.id)

    def action_reorganise(self) -> None:
        """The organisational history of the unit chosen in the tree (the unit listed when the
        tree has no cursor), and the changes to it."""
        tree = self.query_one(UnitTree)
        node = tree.cursor_node
        unit = node.data if node is not None and node.data is not None else self.unit
        if unit is None:
            self.notify(t("reorganise.pick_unit"), markup=False, timeout=4)
            return
        from screens.reorganise import ReorganiseScreen  # imported on first use

        def back(follow: int | None) -> None:
            if follow is not None:
                self.reload_after_change(follow)

        self.app.push_screen(ReorganiseScreen(self.context, unit), back)

    def reload_after_change(self, follow: int | None) -> None:
        """The tree as of today after a reorganisation, the cursor on `follow` (its people
        listed)."""
        self._follow = follow
        self.load_tree()

    def show_unit_id(self, unit_id: int) -> None:
        """The unit chosen in the tree (unfolded down to it) and its people listed (the search
        opening a unit)."""
        self._follow_person = None
        self.reload_after_change(unit_id)

    def show_person(self, branch_id: int, person_id: int) -> None:
        """The person's branch listed (everyone, no filter) and the person's row highlighted
        (the search opening a person who has no file)."""
        self.kind = KINDS[0]
        self._set_filter("")
        self._follow_person = person_id
        self.reload_after_change(branch_id)

    def action_accounts(self) -> None:
        if self.context.actor.readonly:
            self.notify(t("terminal.readonly_key"), markup=False, severity="warning", timeout=4)
            return
        if not self.context.actor.is_admin:
            self.notify(t("accounts.admins_only"), markup=False, severity="warning", timeout=4)
            return
        from screens.accounts import AccountsScreen  # imported on first use

        self.app.push_screen(AccountsScreen(self.context))

    def action_import_people(self) -> None:
        """Candidates and members from a spreadsheet on the server (screens/import_people.py)."""
        if self.context.actor.readonly:
            self.notify(t("terminal.readonly_key"), markup=False, severity="warning", timeout=5)
            return
        if not may_write(self.context.actor):
            self.notify(t("import_people.viewers"), markup=False, severity="warning", timeout=5)
            return
        from screens.import_people import ImportPeopleScreen  # imported on first use

        def back(imported: bool | None) -> None:
            if imported and self.unit is not None:
                self.show_unit(self.unit)

        self.app.push_screen(ImportPeopleScreen(self.context), back)

    def action_toggle_ended(self) -> None:
        self.show_ended = not self.show_ended
        self.notify(t("main.ended_shown" if self.show_ended else "main.ended_hidden"),
                    markup=False, timeout=3)
        self.load_tree()

    # --- the people list ------------------------------------------------------------------

    def show_unit(self, unit: UnitNode, *, person_id: int | None = None) -> None:
        self._queued.clear()
        self.unit = unit
        self.title = unit.name
        self._request_page(offset=0, row=0, person_id=person_id)

    # --- the `/` filter -------------------------------------------------------------------

    def apply_filter(self, text: str) -> None:
        """The people list filtered by name (`text`; empty: no filter), from its first page."""
        self._set_filter(text)
        self._queued.clear()
        if self.unit is not None:
            self._request_page(offset=0, row=0)
        else:
            self._show_info()

    def _set_filter(self, text: str) -> None:
        self.filter_text = text
        field = self.query_one("#people-filter", Input)
        if field.value != text:
            with field.prevent(Input.Changed):
                field.value = text
        self.query_one("#people-filter-row").display = bool(text) or self.focused is field

    @on(Input.Changed, "#people-filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        event.stop()
        if event.value != self.filter_text:
            self.apply_filter(event.value)

    def check_action(self, action: str, parameters) -> bool | None:
        in_filter = isinstance(self.focused, Input)
        if action == "filter":
            return not in_filter  # a "/" typed into the field is a "/"
        if action in ("clear_filter", "filter_to_list"):
            return in_filter
        return True

    def action_filter(self) -> None:
        """`/`: type a filter for the people list (names, diacritics ignored)."""
        row = self.query_one("#people-filter-row")
        row.display = True
        field = self.query_one("#people-filter", Input)
        self.set_focus(field)  # now, before the next key of a burst
        field.cursor_position = len(field.value)

    def action_clear_filter(self) -> None:
        """Escape in the filter: cleared, back to the list."""
        self.set_focus(self.query_one(PagedTable))
        self.apply_filter("")

    def action_filter_to_list(self) -> None:
        self.set_focus(self.query_one(PagedTable))
        self.query_one("#people-filter-row").display = bool(self.filter_text)

    def action_cycle_kind(self) -> None:
        self.kind = KINDS[(KINDS.index(self.kind) + 1) % len(KINDS)]
        self._queued.clear()
        if self.unit is not None:
            self._request_page(offset=0, row=0)
        else:
            self._show_info()

    def _visible_rows(self) -> int:
        table = self.query_one(PagedTable)
        height = table.size.height - (1 if table.show_header else 0)
        if table.size.height > 0 and height > 0:
            return height
        # before the first layout: the terminal less the header, the list's info line, its
        # column headings and the footer (a resize reloads the page if this was wrong)
        return self.app.size.height - 4 if self.app.size.height > 8 else DEFAULT_ROWS

    def _request_page(self, *, offset: int, row: int, after=None, before=None,
                      keep_count: bool = False, person_id: int | None = None) -> None:
        if self.unit is None:
            return
        self._seq += 1
        request = PageRequest(self._seq, self.unit, self.kind, self._visible_rows(), after=after,
                              before=before, offset=offset, row=row,
                              count=self.count if keep_count else None,
                              name_filter=self.filter_text, person_id=person_id)
        self._asked_limit = request.limit  # a second resize to the same size asks nothing more
        self._asked = request
        if self.page is None:
            self._show_page(self._load_page(request))  # the first page, before the first paint
        else:
            self._fetch_page(request)

    @work(thread=True, exclusive=True, group="people")
    def _fetch_page(self, request: PageRequest) -> None:
        try:
            loaded = self._load_page(request)
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(loaded)

    def _load_page(self, request: PageRequest) -> PeopleLoaded:
        actor, today = self.context.actor, self.context.today

        def fetch(**cursor) -> Page:
            return people.people_page(actor, request.unit.id, today, kind=request.kind,
                                      limit=request.limit, name_filter=request.name_filter,
                                      **cursor)

        place = None
        if request.person_id is not None:
            place = people.people_position(actor, request.unit.id, today, request.person_id,
                                           kind=request.kind, name_filter=request.name_filter)
        if place is not None:  # a page starting with the person
            page = fetch(after=place[0])
            offset = place[1]
        elif request.before is not None:
            page = fetch(before=request.before)
            offset = request.offset - len(page.rows)
            if not page.has_before:
                offset = 0
                if len(page.rows) < request.limit:
                    page = fetch()
        else:
            page = fetch(after=request.after)
            offset = request.offset
        count = request.count
        if count is None:
            count = people.people_count(actor, request.unit.id, today, kind=request.kind,
                                        name_filter=request.name_filter)
        return PeopleLoaded(request, page, offset, count)

    @on(PeopleLoaded)
    def _show_page(self, message: PeopleLoaded) -> None:
        if message.request.seq != self._seq:
            return  # a newer request is on its way
        self._request = message.request
        self.page = message.page
        self.first_index = message.offset
        self.count = message.count
        self._fill_table(message.request.row)
        self._show_info()
        self.ready_for_input = True
        if self._queued:
            self._turn_page(self._queued.pop(0))

    def _widths(self, width: int, with_branch: bool) -> dict[str, int]:
        status = status_width()
        fixed = 2 + (BORN_WIDTH + 1) + (status + 1)
        rest = max(width - fixed, 12)
        if not with_branch:
            return {"mark": 1, "name": min(rest, NAME_MAX), "born": BORN_WIDTH, "status": status}
        name = min(max(rest * 3 // 5, 12), NAME_MAX)
        return {"mark": 1, "name": name, "born": BORN_WIDTH, "status": status,
                "branch": max(rest - name - 1, 6)}

    def _fill_table(self, row: int) -> None:
        table = self.query_one(PagedTable)
        page = self.page
        if page is None or self._request is None:
            return
        with_branch = not self._request.unit.is_branch
        widths = self._widths(table.size.width or 55, with_branch)
        table.has_before = self.first_index > 0
        table.has_after = page.has_after
        with self.app.batch_update():
            table.clear(columns=True)
            headers = [("mark", ""), ("name", t("main.col.name")), ("born", t("main.col.born")),
                       ("status", t("main.col.status"))]
            if with_branch:
                headers.append(("branch", t("main.col.branch")))
            for i, (key, label) in enumerate(headers):
                gap = 0 if i == len(headers) - 1 else 1
                table.add_column(fit(Text(label), widths[key]), key=key, width=widths[key] + gap)
            for person in page.rows:
                cells = [
                    Text("●" if person.case_id is not None else ""),
                    fit(safe(person.full_name), widths["name"]),
                    Text(i18n.date(person.born)),
                    fit(Text(status_label(person)) if person.case_id or person.party_status
                         # a person recorded by public role only: the role says who they are
                         else safe(person.public_role, style="italic"), widths["status"]),
                ]
                if with_branch:
                    cells.append(fit(safe(short_unit_name(person.branch_name)), widths["branch"]))
                table.add_row(*cells, key=str(person.id))
            if page.rows:
                wanted = len(page.rows) - 1 if row < 0 else min(row, len(page.rows) - 1)
                table.move_cursor(row=wanted, animate=False)

    def _show_info(self) -> None:
        """The line above the list: which list, which rows of how many, which unit."""
        info = self.query_one("#people-info", Static)
        line = Text(t(f"main.kind.{self.kind}"), style="bold")
        if self.filter_text:
            line.append(" · ")
            line.append(t("search.filter_info", text=self.filter_text), style="bold")
        line.append(" · ")
        rows = len(self.page.rows) if self.page is not None else 0
        if self.unit is None:
            tree = self.query_one(UnitTree)
            line.append(t("main.no_unit") if tree.root.children else t("main.no_units"))
        elif rows == 0:
            line.append(t("main.empty"))
        else:
            line.append(t("main.rows", first=i18n.number(self.first_index + 1),
                          last=i18n.number(self.first_index + rows),
                          total=i18n.number(self.count)))
        if self.unit is not None:
            line.append(" · ")
            line.append_text(safe(self.unit.name))
            if self.unit.ended is not None and self.unit.ended <= self.context.today:
                line.append(" (" + t("main.tree.ended", date=i18n.date(self.unit.ended)) + ")")
        info.update(line)

    @on(PagedTable.PageRequested)
    def _turn_page(self, message: PagedTable.PageRequested) -> None:
        message.stop()
        if self._request is not None and self._request.seq != self._seq:
            # a page is on its way: turn from it once it is shown (keys held down over a slow
            # link must not lose pages, nor pile up without end)
            if len(self._queued) < 10:
                self._queued.append(message)
            return
        page = self.page
        if page is None or not page.rows:
            return
        if message.step > 0 and not page.has_after:
            return
        if message.step < 0 and self.first_index == 0:
            return
        if message.step > 0:
            self._request_page(after=page.rows[-1].cursor, offset=self.first_index + len(page.rows),
                               row=message.row, keep_count=True)
        elif message.step < 0:
            self._request_page(before=page.rows[0].cursor, offset=self.first_index, row=message.row,
                               keep_count=True)
        else:
            self._request_page(offset=0, row=message.row, keep_count=True)

    @on(PagedTable.Resized)
    def _table_resized(self, message: PagedTable.Resized) -> None:
        message.stop()
        page, request = self.page, self._request
        if page is None or request is None or not page.rows:
            return
        table = self.query_one(PagedTable)
        row = max(table.cursor_row, 0)
        wanted = self._visible_rows()
        asked = self._asked
        if asked is not None and asked.seq == self._seq and request.seq != self._seq:
            # a page is on its way (another unit, kind or filter): asked again at this size
            if wanted != asked.limit:
                self._seq += 1
                self._asked = replace(asked, seq=self._seq, limit=wanted)
                self._asked_limit = wanted
                self._fetch_page(self._asked)
            return
        if wanted != self._asked_limit:
            # the same first row, as many rows as now fit (ids are integers: id - 1 is just before)
            first = page.rows[0]
            self._request_page(after=(first.sort_key, first.id - 1), offset=self.first_index,
                               row=row, keep_count=True)
        elif wanted == request.limit:
            self._fill_table(row)
        # else: a page of this size is on its way

    @on(DataTable.RowSelected)
    def _person_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.page is None or event.row_key.value is None:
            return
        person_id = int(event.row_key.value)
        row = next((r for r in self.page.rows if r.id == person_id), None)
        if row is None:
            return
        if row.case_id is None:
            self.notify(t("main.no_file", name=row.full_name), markup=False, timeout=4)
            return
        from screens.case import CaseScreen  # imported on first use: not on the first screen

        self.app.push_screen(CaseScreen(self.context, row.case_id))
