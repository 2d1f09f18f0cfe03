"""The console in headless Chromium: logging in, the branch home, members, the committee."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.clock import utcnow
from handlers.study import record_study
from models.base import db
from models.console import ConsoleLogin
from tests import factories as f
from tests.browser.conftest import open_page
from tests.support.apps import make_driver
from tests.support.console import SH, link_for

pytestmark = pytest.mark.browser


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    """Two branches of one committee, their secretaries, members and a committee admin."""
    with app.app_context(), db.connection_context():
        committee = f.committee("示范党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        people = {
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "admin": f.member("赵管理员", b, roles="committee_admin", phone="13800000002"),
            "secb": f.member("李书记", b, roles="secretary", phone="13800000003"),
        }
        f.bound(people["sec"], "openid-sec")
        for n in range(6):
            f.member(f"张党员{n}", a, phone=f"1391234560{n}")
            f.member(f"刘党员{n}", b, phone=f"1371234560{n}")
        now = utcnow()
        for who in ("sec", "secb", "admin"):
            record_study(people[who], "学习党章", now=now, tz=SH, max_chars=500)
    return {"a": a, "b": b, **people}


def enter(page: Any, live_server: Any, app: Any, member: Any) -> None:
    page.goto(live_server.url + link_for(app, member))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/**")


def fits(page: Any) -> bool:
    """Nothing wider than the window (tables scroll inside their own box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_login_by_link_lands_on_the_branch_home_with_its_charts(
    desk, phone, shots, live_server, app, org
):
    enter(desk, live_server, app, org["sec"])
    assert desk.url.endswith(f"/console/branch/{org['a'].id}")
    desk.wait_for_selector("#study-chart canvas")
    assert desk.get_by_role("heading", name="学习参与率（近 8 周）").is_visible()
    assert desk.get_by_role("heading", name="组织生活（三会一课）").is_visible()
    assert "王书记" in desk.locator("header").inner_text()
    shots.take(desk, "branch-home")
    enter(phone, live_server, app, org["sec"])
    phone.wait_for_selector("#study-chart canvas")
    assert fits(phone)
    shots.take(phone, "branch-home-phone")


def test_the_member_list_filters_as_you_type_and_masks_phones(desk, shots, live_server, app, org):
    enter(desk, live_server, app, org["sec"])
    desk.get_by_role("navigation").get_by_role("link", name="党员", exact=True).click()
    desk.wait_for_selector("table.members tbody tr")
    assert desk.locator("table.members tbody tr").count() == 7
    assert "139****5600" in desk.locator("table.members").inner_text()
    assert "13912345600" not in desk.content()
    desk.get_by_label("姓名").fill("张党员3")
    desk.wait_for_function("document.querySelectorAll('table.members tbody tr').length === 1")
    assert "张党员3" in desk.locator("table.members tbody").inner_text()
    assert "q=" in desk.url  # the filter is in the address, so the page can be shared or reloaded
    shots.take(desk, "members-search")
    desk.get_by_label("微信绑定").select_option("yes")
    desk.get_by_label("姓名").fill("")
    only = desk.locator("table.members tbody tr")
    only.filter(has_text="王书记").wait_for()
    assert only.count() == 1  # the one bound member


def test_the_committee_compares_branches_sorts_and_drills_down(
    desk, phone, shots, live_server, app, org
):
    enter(desk, live_server, app, org["admin"])
    assert desk.url.endswith("/console/committee")
    desk.wait_for_selector("#committee-chart canvas")
    rows = desk.locator("#branches tbody tr")
    assert rows.count() == 2
    desk.wait_for_selector("#people tbody tr")  # 学时, age bands, volunteer: loaded after the page
    assert desk.locator("#people tbody tr").count() == 2
    shots.take(desk, "committee")
    header = desk.get_by_role("columnheader", name="学习参与率")
    header.click()
    low = rows.nth(0).locator("td").nth(0).inner_text()
    header.click()
    high = rows.nth(0).locator("td").nth(0).inner_text()
    assert (low, high) == ("第一党支部", "第二党支部")  # 1 of 7 took part, against 2 of 8
    assert header.get_attribute("aria-sort") == "descending"
    desk.locator("#branches").get_by_role("link", name="第一党支部").click()
    desk.wait_for_url(f"**/console/branch/{org['a'].id}")
    assert desk.get_by_role("heading", name="第一党支部").count() == 1
    shots.take(desk, "committee-drill-down")
    enter(phone, live_server, app, org["admin"])
    phone.wait_for_selector("#committee-chart canvas")
    assert fits(phone)
    shots.take(phone, "committee-phone")


def test_a_qr_scan_in_wechat_logs_the_waiting_browser_in(
    desk, shots, live_server, app, org, settings, fake
):
    settings.wechat.api_base_url = fake.base_url
    desk.goto(live_server.url + "/console/login")
    assert desk.locator(".qr svg").count() == 1
    shots.take(desk, "login-qr")
    with app.app_context(), db.connection_context():
        scene = ConsoleLogin.get(ConsoleLogin.kind == "qr").scene
    wechat = make_driver(settings, live_server.url)
    assert "已确认登录控制台" in wechat.deliver(wechat.scan_xml("openid-sec", scene)).reply
    desk.wait_for_url(f"**/console/branch/{org['a'].id}")  # the page's poll lets it in
    shots.take(desk, "login-qr-done")


def test_logging_out_ends_the_session(browser, shots, live_server, app, org):
    page = open_page(browser)
    enter(page, live_server, app, org["sec"])
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/console/login**")
    page.goto(live_server.url + f"/console/branch/{org['a'].id}")
    assert "/console/login" in page.url
    shots.take(page, "logged-out")
    page.context.close()


def test_an_unused_link_after_its_minutes_is_refused_in_chinese(browser, live_server, app, org):
    page = open_page(browser)
    path = link_for(app, org["sec"])
    with app.app_context(), db.connection_context():
        ConsoleLogin.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    page.goto(live_server.url + path)
    page.get_by_role("button", name="登录").click()
    assert "这个登录链接已过期" in page.get_by_role("alert").inner_text()
    page.context.close()
