"""Widgets and helpers shared by several screens.

- `safe`: text from the database as a Rich `Text`, never parsed as markup.
- `translate_bindings`: key descriptions in the user's language; `hide_keys`: out of the footer.
- `PagedTable`: a table that holds one screenful and asks for the next or previous page.
- `UnitTree`: the unit tree, with left/right to fold and unfold.
- `ListFilter`, `FilterRow`, `filter_bindings`, `filter_match`: `/` filters the list in view.
"""

from __future__ import annotations

import re
from dataclasses import replace

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import Horizontal
from textual.dom import DOMNode
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Tree

from db.text import clean, fold, printable
from tui import i18n

# Keys shown as they are printed on the keyboard (the footer and the help screen).
KEY_LABELS = {
    "enter": "Enter", "escape": "Esc", "pagedown": "PgDn", "pageup": "PgUp", "tab": "Tab",
    "shift+tab": "Shift+Tab", "home": "Home", "end": "End", "up": "↑", "down": "↓",
    "left": "←", "right": "→", "space": "Space", "question_mark": "?", "slash": "/",
    "backspace": "Backspace", "delete": "Del",
}


def key_label(key: str) -> str:
    """A key as the user sees it on the keyboard: "ctrl+q" -> "Ctrl+Q", "f1" -> "F1"."""
    if key in KEY_LABELS:
        return KEY_LABELS[key]
    *mods, last = key.split("+")
    if last in KEY_LABELS:
        last = KEY_LABELS[last]
    elif len(last) == 1:
        last = last.upper() if mods else last
    elif last[0] == "f" and last[1:].isdigit():
        last = last.upper()
    else:
        last = last.capitalize()
    return "+".join([m.capitalize() for m in mods] + [last])


def safe(value: object | None, style: str = "") -> Text:
    """A value from the database, shown exactly as stored (brackets included), minus any
    control character (an escape sequence typed into a field must not reach the terminal)."""
    return Text("" if value is None else printable(str(value)), style=style)


def fit(text: Text, width: int) -> Text:
    """`text` on one line, cut with an ellipsis to `width` cells."""
    text.no_wrap = True
    text.truncate(max(width, 1), overflow="ellipsis")
    return text


def translate_bindings(node: DOMNode) -> None:
    """Turn the message keys used as binding descriptions into text in the current language.

    `BINDINGS` are class attributes, built when the module is imported, before the language is
    chosen; so they name a message (e.g. "keys.next_page") and each node, when created, gets
    copies of its bindings with the message in the language of the session.
    """
    bindings = node._bindings  # the node's own copy (Textual copies the class map per node)
    for key, key_bindings in list(bindings.key_to_bindings.items()):
        bindings.key_to_bindings[key] = [
            replace(b, description=i18n.t(b.description),
                    tooltip=i18n.t(b.tooltip) if b.tooltip and i18n.has(b.tooltip) else b.tooltip)
            if b.description and i18n.has(b.description) else b
            for b in key_bindings]


def hide_keys(node: DOMNode, keys) -> None:
    """Leave `keys` out of the footer (they stay bound: the action can still say why it does
    nothing, e.g. a write key for an account that may not write)."""
    bindings = node._bindings
    for key in keys:
        if key in bindings.key_to_bindings:
            bindings.key_to_bindings[key] = [replace(b, show=False)
                                             for b in bindings.key_to_bindings[key]]


def rename_key(node: DOMNode, key: str, description: str) -> None:
    """Give `key` another description on this node (e.g. Enter on a list that opens no file)."""
    bindings = node._bindings
    if key in bindings.key_to_bindings:
        bindings.key_to_bindings[key] = [replace(b, description=description)
                                         for b in bindings.key_to_bindings[key]]


def help_rows(nodes) -> list[tuple[str, str, str | None]]:
    """(keys, description, longer description) for the bindings of `nodes` that have an id
    (ours), in order, with the keys of one action joined ("F1, ?")."""
    rows: dict[tuple[str, str], tuple[list[str], str | None]] = {}
    for node in nodes:
        declared = [getattr(b, "id", None) for b in getattr(type(node), "BINDINGS", [])]
        bindings = [b for _key, b in node._bindings
                    if b.id is not None and not b.system and b.description]
        bindings.sort(key=lambda b: declared.index(b.id) if b.id in declared else len(declared))
        for binding in bindings:
            label = binding.key_display or key_label(binding.key)
            keys, _tooltip = rows.setdefault((binding.action.split("(")[0], binding.description),
                                             ([], binding.tooltip or None))
            if label not in keys:
                keys.append(label)
    return [(", ".join(keys), description, tooltip)
            for (_action, description), (keys, tooltip) in rows.items()]


class PagedTable(DataTable):
    """A DataTable holding one page; it asks its screen for the page after or before.

    PageDown/PageUp ask for the next/previous page keeping the cursor's row; the down arrow on
    the last row and the up arrow on the first row turn the page too; Home goes to the first page.
    """

    HELP_TITLE = "help.list"


    BINDINGS = [
        Binding("enter", "select_cursor", "keys.open", id="list.open"),
        Binding("pagedown", "turn_page(1)", "keys.next_page", id="list.next_page"),
        Binding("pageup", "turn_page(-1)", "keys.previous_page", show=False,
                id="list.previous_page"),
        Binding("down", "row_down", "keys.down", show=False, id="list.down"),
        Binding("up", "row_up", "keys.up", show=False, id="list.up"),
        Binding("home", "first_page", "keys.first_page", show=False, id="list.first_page"),
        # DataTable's End scrolls and leaves the cursor, so Enter opened a row no longer shown
        Binding("end", "last_row", "keys.last_row", show=False, id="list.last_row"),
    ]

    class PageRequested(Message):
        """`step` is +1 (next page), -1 (previous) or 0 (the first); `row` the cursor row
        wanted on the new page (-1: the last row)."""

        def __init__(self, table: PagedTable, step: int, row: int) -> None:
            super().__init__()
            self.table = table
            self.step = step
            self.row = row

        @property
        def control(self) -> PagedTable:
            return self.table

    class Resized(Message):
        """The table's size changed: the page may hold more or fewer rows, or be wider."""

        def __init__(self, table: PagedTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> PagedTable:
            return self.table

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("cell_padding", 0)
        super().__init__(*args, **kwargs)
        translate_bindings(self)
        self.has_before = False
        self.has_after = False

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized(self))

    def action_turn_page(self, step: int) -> None:
        if (step > 0 and self.has_after) or (step < 0 and self.has_before):
            self.post_message(self.PageRequested(self, step, max(self.cursor_row, 0)))
        elif self.row_count:
            self.move_cursor(row=self.row_count - 1 if step > 0 else 0)

    def action_row_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1 and self.has_after:
            self.post_message(self.PageRequested(self, 1, 0))
        else:
            self.action_cursor_down()

    def action_row_up(self) -> None:
        if self.cursor_row <= 0 and self.has_before:
            self.post_message(self.PageRequested(self, -1, -1))
        else:
            self.action_cursor_up()

    def action_first_page(self) -> None:
        if self.has_before:
            self.post_message(self.PageRequested(self, 0, 0))
        elif self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        """End: the cursor on the page's last row (a province's list has no useful last page)."""
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)


class UnitTree(Tree):
    """A tree of units: Enter selects, Space or the arrows fold and unfold.

    The nodes' data are `db.units.UnitNode`s. A unit's children are added to the tree when it is
    first unfolded, not when the tree is shown: a province has tens of thousands of branches,
    and adding their nodes took seconds at start-up. `keep_open` holds the ids of units that
    unfold again as soon as their parent's children are added (what the user left unfolded)."""

    HELP_TITLE = "help.tree"

    ICON_NODE = "► "
    ICON_NODE_EXPANDED = "▼ "

    BINDINGS = [
        Binding("enter", "select_cursor", "keys.show_people", id="tree.select"),
        Binding("right", "unfold", "keys.unfold", show=False, id="tree.unfold"),
        Binding("left", "fold", "keys.fold", show=False, id="tree.fold"),
        Binding("space", "toggle_node", "keys.toggle_node", show=False, id="tree.toggle"),
    ]

    def __init__(self, *args, chain_of, label=None, **kwargs) -> None:
        """`chain_of(unit_id)`: the ids from the top down to the unit (db.units.unit_chain), or
        None when the tree lacks it: the way to a unit without making every unit's node."""
        super().__init__(*args, **kwargs)
        translate_bindings(self)
        self.auto_expand = False
        self.guide_depth = 2  # narrow guides leave more room for the names
        self.label_for = label or (lambda unit: Text(unit.name))
        self.keep_open: set[int] = set()
        self.chain_of = chain_of

    def show_units(self, roots) -> None:
        """Show these units (a new reading of the tree): the top ones, and below them what is
        in `keep_open`."""
        self.clear()
        for root in roots:
            node = self._add_unit(self.root, root)
            if root.id in self.keep_open:
                self.open(node)

    def _add_unit(self, parent, unit):
        if unit.child_count:
            return parent.add(self.label_for(unit), data=unit)
        return parent.add_leaf(self.label_for(unit), data=unit)

    def fill(self, node) -> None:
        """Add the node's children, if not yet added."""
        unit = node.data
        if unit is None or node.children or not unit.child_count:
            return
        for child in unit.children:
            added = self._add_unit(node, child)
            if child.id in self.keep_open:
                self.open(added)

    def open(self, node) -> None:
        """Unfold the node, its children added."""
        self.fill(node)
        if node.allow_expand and not node.is_expanded:
            node.expand()

    def node_for(self, unit_id: int):
        """The unit's node (its parents' children added on the way, nothing unfolded); None when
        the tree shown lacks it."""
        chain = self.chain_of(unit_id)
        if not chain:
            return None
        node = self.root
        for ident in chain:
            self.fill(node)
            node = next((child for child in node.children
                         if child.data is not None and child.data.id == ident), None)
            if node is None:
                return None
        return node

    def _toggle_node(self, node) -> None:
        self.fill(node)  # Space and a click
        super()._toggle_node(node)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        self.fill(event.node)  # any other unfolding (shift+space unfolds the siblings)

    def action_unfold(self) -> None:
        node = self.cursor_node
        if node is None or not node.allow_expand:
            return
        self.fill(node)
        if node.is_expanded and node.children:
            self.move_cursor(node.children[0])
        else:
            node.expand()

    def action_fold(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded and node.allow_expand:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)


class InMemoryPages:
    """For a screen that shows a list it holds in memory through one PagedTable: the page size,
    page turns and redrawing after a resize. The screen keeps `first` and the list in the
    attribute named by LIST (None until loaded), and draws with `_show(first, row)`."""

    LIST = "rows"
    first = 0

    def _page_size(self) -> int:
        table = self.query_one(PagedTable)
        return max(table.size.height - 1, 1) if table.size.height > 1 else 20

    def on_paged_table_page_requested(self, message: PagedTable.PageRequested) -> None:
        message.stop()
        size = self._page_size()
        first = 0 if message.step == 0 else self.first + message.step * size
        self._show(first, message.row)

    def on_paged_table_resized(self, message: PagedTable.Resized) -> None:
        message.stop()
        if getattr(self, self.LIST) is not None:
            self._show(self.first, max(self.query_one(PagedTable).cursor_row, 0))


class FilterRow(Horizontal):
    """The one-line row of the `/` filter: a label and the field, hidden until `/`. Its ids
    start with the list's id: `{list}-filter-row`, `{list}-filter-label`, `{list}-filter`."""

    DEFAULT_CSS = """
    FilterRow {
        height: 1;
        padding: 0 1;
        display: none;
    }
    FilterRow > Label {
        width: auto;
        padding-right: 1;
    }
    FilterRow > Input {
        width: 1fr;
    }
    """

    def __init__(self, list_id: str, placeholder: str = "search.filter_placeholder") -> None:
        field = Input(placeholder=i18n.t(placeholder), id=f"{list_id}-filter", compact=True)
        field.cursor_blink = False
        super().__init__(Label(i18n.t("search.filter_label"), markup=False,
                               id=f"{list_id}-filter-label"),
                         field, id=f"{list_id}-filter-row")


def filter_bindings(list_id: str, tooltip: str = "search.key_filter_long") -> list[Binding]:
    """The keys of the `/` filter, for the BINDINGS of a screen using `ListFilter`."""
    return [
        # priority: the focus moves as the key is read (a burst over a slow link goes into the
        # field); not while the field has the focus
        Binding("slash", "filter", "search.key_filter", tooltip=tooltip, show=False,
                priority=True, id=f"{list_id}.filter"),
        Binding("enter,down", "filter_to_list", show=False, priority=True),
    ]


_PUNCTUATION = "()[]{}<>“”‘’\"',.;:!?«»·"
_JOINERS = re.compile(r"[-_./]")  # "demo_viewer", "NS-NP-07": each part starts a word too


def filter_match(words: list[str], *texts: str | None) -> bool:
    """Whether each word typed starts a word of what the row shows (diacritics, case and đ
    ignored; "_", "-", "." and "/" also part words): "hoat ph" matches "Nông Văn Hoạt ·
    Phường 3", "viewer" matches "demo_viewer"."""
    if not words:
        return True
    return terms_match(words, filter_terms(*texts))


def filter_terms(*texts: str | None) -> tuple[str, ...]:
    """The words of what a row shows as filter_match compares them, folded: for a screen that
    filters many rows at each key, worked out once a row (folding is most of the cost)."""
    shown = [w.strip(_PUNCTUATION) for w in fold(" ".join(text for text in texts if text)).split()]
    shown += [part for w in shown if _JOINERS.search(w) for part in _JOINERS.split(w)]
    return tuple(shown)


def terms_match(words: list[str], terms: tuple[str, ...]) -> bool:
    """filter_match on a row's filter_terms."""
    return all(any(term.startswith(word) for term in terms) for word in words)


class ListFilter:
    """`/` filters the list in view, for a screen that holds all its rows: the screen composes
    a `FilterRow(FILTER)` above its list (whose id is FILTER), adds `filter_bindings(FILTER)`
    to its BINDINGS, redraws in `_filter_changed()` keeping the rows for which
    `filter_match(self.filter_words(), ...)` holds, and starts its `action_back` with
    `if self.filter_escape(): return`. Escape in the field clears the filter and returns to
    the list; Down and Enter go to the list, keeping the filter."""

    FILTER = "list"
    filter_text = ""

    def filter_words(self) -> list[str]:
        return fold(clean(self.filter_text) or "").split()

    def filter_note(self, line: Text, shown: int | None = None) -> Text:
        """The count line, saying the filter is on, and when it leaves no row (`shown` 0) that
        the list is not empty, the filter is."""
        if self.filter_text:
            line.append(" · ")
            line.append(i18n.t("search.filter_info", text=self.filter_text), style="bold")
            if shown == 0:
                line.append(" · " + i18n.t("filters.none"))
        return line

    def _in_filter(self) -> bool:
        return getattr(self.focused, "id", None) == f"{self.FILTER}-filter"

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "filter":
            return not isinstance(self.focused, Input)  # a "/" typed into a field is a "/"
        if action == "filter_to_list":
            return self._in_filter()
        return super().check_action(action, parameters)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != f"{self.FILTER}-filter":
            return
        event.stop()
        self.filter_text = event.value
        self._filter_changed()

    def _filter_changed(self) -> None:
        raise NotImplementedError

    def action_filter(self) -> None:
        self.query_one(f"#{self.FILTER}-filter-row").display = True
        field = self.query_one(f"#{self.FILTER}-filter", Input)
        self.set_focus(field)  # now, before the next key of a burst
        field.cursor_position = len(field.value)

    def action_filter_to_list(self) -> None:
        self.set_focus(self.query_one(f"#{self.FILTER}"))
        self.query_one(f"#{self.FILTER}-filter-row").display = bool(self.filter_text)

    def filter_escape(self) -> bool:
        """Escape in the field: the filter cleared, back to the list (True); else False."""
        if not self._in_filter():
            return False
        field = self.query_one(f"#{self.FILTER}-filter", Input)
        field.value = ""
        self.filter_text = ""
        self.query_one(f"#{self.FILTER}-filter-row").display = False
        self.set_focus(self.query_one(f"#{self.FILTER}"))
        self._filter_changed()
        return True
