"""Pilot helpers shared by the screen tests and the snapshot tests."""

from __future__ import annotations

from tui.widgets import UnitTree


async def settle(pilot) -> None:
    """Let the workers finish and their results be shown (a result may start another worker)."""
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def tree_node(app, unit_id):
    tree = app.screen.query_one(UnitTree)
    stack = list(tree.root.children)
    while stack:
        node = stack.pop()
        if node.data is not None and node.data.id == unit_id:
            return node
        stack.extend(node.children)
    raise AssertionError(f"unit {unit_id} not in the tree")


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
