"""Pilot helpers shared by the screen tests and the snapshot tests."""

from __future__ import annotations

from tui.widgets import UnitTree


async def settle(pilot) -> None:
    """Let the workers finish and their results be shown (a result may start another worker),
    until the screen stays the same from one pause to the next: on a loaded machine a table
    shown by a result may lay out its rows a few turns of the event loop later."""
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    before = screen_text(pilot.app)
    for _ in range(20):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        now = screen_text(pilot.app)
        if now == before:
            return
        before = now


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def tree_nodes(app):
    """Every node of the unit tree, as unfolding every unit would show them (the tree adds a
    unit's children when it is first unfolded)."""
    tree = app.screen.query_one(UnitTree)
    stack = list(tree.root.children)
    while stack:
        node = stack.pop()
        yield node
        tree.fill(node)
        stack.extend(node.children)


def tree_node(app, unit_id):
    node = app.screen.query_one(UnitTree).node_for(unit_id)
    if node is None:
        raise AssertionError(f"unit {unit_id} not in the tree")
    return node


async def open_unit(pilot, unit_id) -> None:
    """Move the tree's cursor to the unit (unfolding its parents) and press Enter."""
    app = pilot.app
    tree = app.screen.query_one(UnitTree)
    tree.focus()
    node = tree_node(app, unit_id)
    parent = node.parent
    while parent is not None:
        parent.expand()
        parent = parent.parent
    await pilot.pause()
    tree.move_cursor(node)
    await pilot.press("enter")
    await settle(pilot)
