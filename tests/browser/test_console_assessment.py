"""The branch assessment in headless Chromium: the committee's table from the top menu, a
branch's breakdown and trend, at 1280 px and 390 px (screenshots under test-artifacts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from core.clock import UTC
from handlers.study import record_study
from models.base import db
from models.org import Branch
from tests import factories as f
from tests.browser.test_console_browser import enter, fits
from tests.support.console import SH

pytestmark = pytest.mark.browser


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    """Two branches in the system since January; in July only branch A studied."""
    with app.app_context(), db.connection_context():
        committee = f.committee("示范党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        Branch.update(created_at=datetime(2026, 1, 1, tzinfo=UTC)).execute()
        admin = f.member("赵管理员", b, roles="committee_admin", phone="13800000002")
        sec = f.member("王书记", a, roles="secretary", phone="13800000001")
        record_study(sec, "学习党章", now=datetime(2026, 7, 8, 9, tzinfo=SH), tz=SH, max_chars=500)
    return {"a": a, "b": b, "admin": admin, "sec": sec}


def test_the_committee_opens_the_ranking_and_a_branch_breakdown(
    desk, phone, shots, live_server, app, org
):
    enter(desk, live_server, app, org["admin"])
    desk.get_by_role("navigation", name="主导航").get_by_role("link", name="支部星级评定").click()
    desk.wait_for_url("**/console/committee/assessment")
    rows = desk.locator("#assessment tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(1).inner_text() == "第一党支部"
    assert "参学 1/1 人" in rows.nth(0).inner_text()
    shots.take(desk, "assessment-committee")
    desk.locator("#assessment").get_by_role("link", name="第一党支部").click()
    desk.wait_for_url(f"**/console/branch/{org['a'].id}/assessment?month=2026-07")
    assert desk.get_by_role("heading", name="得分明细").is_visible()
    assert desk.locator(".assessment-trend .bar").count() == 6
    shots.take(desk, "assessment-branch")
    enter(phone, live_server, app, org["sec"])
    phone.goto(live_server.url + f"/console/branch/{org['a'].id}/assessment")
    assert "第1名" in phone.locator(".assessment-head").inner_text()
    assert fits(phone)
    shots.take(phone, "assessment-branch-phone")
