"""The console's main flows in headless Chromium: a roster upload, a meeting's sign-in, dues."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from models.base import db
from models.dues import DuesPayment
from models.org import Member
from tests import factories as f
from tests.browser.test_console_browser import enter
from tests.support.apps import make_driver

pytestmark = pytest.mark.browser


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        branch = f.branch("第一党支部", f.committee("示范党委"))
        sec = f.member("王书记", branch, roles="secretary,dues_collector", phone="13800000001")
        zhang = f.member("张三", branch, phone="13800000002")
        f.bound(zhang, "openid-zhang")
        f.assess(zhang, base_fen=800000, from_month=date(2026, 1, 1))
    return {"branch": branch, "sec": sec, "zhang": zhang}


def roster(path: Path, *rows: str) -> str:
    path.write_text("姓名,手机号,支部\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def test_a_roster_upload_with_a_bad_row_then_a_good_file(
    desk, shots, live_server, app, org, tmp_path
):
    enter(desk, live_server, app, org["sec"])
    desk.goto(live_server.url + f"/console/branch/{org['branch'].id}/roster")
    bad = roster(tmp_path / "bad.csv", "李四,13800000003,第一党支部", "王五,1380000,第一党支部")
    desk.get_by_label("名册文件（.xlsx 或 .csv）").set_input_files(bad)
    desk.get_by_role("button", name="上传并预览").click()
    assert "第3行" in desk.content() and "不是11位手机号" in desk.content()
    shots.take(desk, "roster-bad-row")
    with app.app_context(), db.connection_context():
        assert not Member.select().where(Member.name == "李四").exists()  # nothing written
    good = roster(
        tmp_path / "good.csv", "李四,13800000003,第一党支部", "王五,13800000004,第一党支部"
    )
    desk.goto(live_server.url + f"/console/branch/{org['branch'].id}/roster")
    desk.get_by_label("名册文件（.xlsx 或 .csv）").set_input_files(good)
    desk.get_by_role("button", name="上传并预览").click()
    assert desk.locator("#count-created").inner_text() == "2 人"
    shots.take(desk, "roster-preview")
    with app.app_context(), db.connection_context():
        assert not Member.select().where(Member.name == "李四").exists()  # not before confirming
    desk.get_by_role("button", name="确认导入").click()
    desk.wait_for_url("**/roster/done**")
    shots.take(desk, "roster-imported")
    with app.app_context(), db.connection_context():
        assert Member.select().where(Member.name.in_(["李四", "王五"])).count() == 2


def test_a_meeting_is_created_opened_for_sign_in_and_a_sign_in_appears(
    desk, shots, live_server, app, org, settings, fake
):
    settings.wechat.api_base_url = fake.base_url  # the sign-in page draws the meeting's QR
    enter(desk, live_server, app, org["sec"])
    desk.get_by_role("navigation").get_by_role("link", name="会议").click()
    desk.goto(live_server.url + f"/console/branch/{org['branch'].id}/meetings/new")
    desk.locator("select[name=kind]").select_option("theme_day")
    desk.locator("input[name=when]").fill("今天 10:00")
    desk.locator("input[name=place]").fill("三楼会议室")
    desk.locator("input[name=title]").fill("学习党章")
    shots.take(desk, "meeting-form")
    desk.get_by_role("button", name="安排会议").click()
    desk.get_by_role("link", name="开始签到（投影页）").click()
    code = re.search(r"\b(\d{6})\b", desk.locator("main").inner_text()).group(1)
    assert desk.locator("main svg").count() >= 1  # the QR, drawn on the page
    shots.take(desk, "signin-projector")
    wechat = make_driver(settings, live_server.url)
    assert "签到成功" in wechat.send_text("openid-zhang", f"签到 {code}").reply
    desk.get_by_role("heading", name="已签到（1）").wait_for()  # it refreshes itself every 3 s
    assert "张三" in desk.locator(".names section").first.inner_text()
    shots.take(desk, "signin-after-member")


def test_a_payment_is_recorded_then_reversed(desk, shots, live_server, app, org):
    enter(desk, live_server, app, org["sec"])
    desk.get_by_role("navigation").get_by_role("link", name="党费").click()
    shots.take(desk, "dues-grid")
    desk.goto(live_server.url + f"/console/branch/{org['branch'].id}/dues/payments")
    desk.get_by_label("党员", exact=True).select_option(label="张三")
    desk.get_by_label("金额（元）").fill("120.00")
    desk.get_by_label("月份").fill("2026年1月")
    desk.get_by_role("button", name="登记").click()
    assert "已登记：张三 2026年1月党费 120.00元" in desk.content()
    shots.take(desk, "dues-recorded")
    desk.get_by_role("link", name="更正").first.click()
    desk.get_by_label("更正原因").fill("金额登记错误")
    desk.get_by_role("button", name="作废这条记录").click()
    assert "更正" in desk.content()
    shots.take(desk, "dues-reversed")
    with app.app_context(), db.connection_context():
        kinds = sorted(p.kind for p in DuesPayment.select())
    assert len(kinds) == 2 and "reversal" in kinds
