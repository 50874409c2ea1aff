"""The case view's Steps and Documents tabs: who recorded each step, every event on the file in
its place in the timeline, and the documents as a checklist of what is received and missing."""

from __future__ import annotations

import datetime
import io

from rich.console import Console

from db import cases, models, pipeline
from screens.case import CaseScreen
from tui.context import AppContext

DEMO_TODAY = datetime.date(2021, 9, 30)


def _text(renderable) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def _screen(demo_db, actor) -> CaseScreen:
    return CaseScreen(AppContext(location=demo_db, actor=actor, today=DEMO_TODAY), 1)


def _open_file(stage: str) -> int:
    C = models.CaseFile
    return (C.select(C.id).where((C.stage == stage) & C.is_open() & (C.on_hold == False))  # noqa: E712
            .order_by(C.id).scalar())


def test_documents_are_a_checklist_of_received_and_missing(demo_db, demo_admin):
    view = cases.case_view(demo_admin, _open_file("certified"), DEMO_TODAY)
    text = _text(_screen(demo_db, demo_admin)._documents(view))
    boxes = [line for line in text.splitlines() if line.startswith("[ ]")]
    assert len(boxes) == len(pipeline.BRANCH_DOCUMENTS)
    assert "Đơn xin vào Đảng — chưa có, cần trước khi chi bộ xét" in text
    probationary = cases.case_view(demo_admin, _open_file("probationary"), DEMO_TODAY)
    text = _text(_screen(demo_db, demo_admin)._documents(probationary))
    assert len([line for line in text.splitlines() if line.startswith("[x]")]) >= len(pipeline.BRANCH_DOCUMENTS)
    assert "Giấy chứng nhận lớp đảng viên mới" in text  # needed before recognition


def test_the_timeline_says_who_recorded_each_step_and_shows_events(demo_db, demo_admin):
    case_id = _open_file("dossier")
    pipeline.hold(demo_admin, case_id, "Đang thẩm tra lý lịch bổ sung", today=DEMO_TODAY)
    view = cases.case_view(demo_admin, case_id, DEMO_TODAY)
    text = _text(_screen(demo_db, demo_admin)._steps(view))
    assert "người ghi:" in text
    lines = text.splitlines()
    hold = next(n for n, line in enumerate(lines) if "Tạm dừng" in line)
    assert "Đang thẩm tra lý lịch bổ sung" in lines[hold + 1]
    assert "demo_" in text or "tester" in text
    # the hold, dated today, comes after every step
    assert hold > max(n for n, line in enumerate(lines) if "Hoàn thiện hồ sơ" in line)
